import gymnasium as gym
import numpy as np
import pytest

import sole.envs
from sole.envs.registration import env_id, register
from sole.envs.sim import TaskEnv


def test_every_task_is_registered_on_import_and_made_by_gym():
    assert set(register()) == {f"sole/{name}" for name in sole.envs.TASKS} <= set(gym.registry)
    env = gym.make("sole/drawer-close", size=48, seed=3)
    try:
        assert isinstance(env.unwrapped, TaskEnv) and env.unwrapped.spec_task.name == "drawer-close"
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs) and env.render().shape == (48, 48, 3)
    finally:
        env.close()


def test_registering_again_adds_nothing_and_other_names_resolve_when_made():
    before = len(gym.registry)
    register()
    assert len(gym.registry) == before
    assert env_id("proc:123") == "sole/proc-123" and env_id("window-close-v3") == "sole/window-close"
    register("not-a-task:7")  # registering records the name only: the task is looked up when the env is made
    assert "sole/not-a-task-7" in gym.registry
    with pytest.raises(ValueError, match="unknown task 'not-a-task:7'"):
        gym.make("sole/not-a-task-7")
    del gym.registry["sole/not-a-task-7"]
    np.testing.assert_equal(len(gym.registry), before)
