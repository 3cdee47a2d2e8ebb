import numpy as np
import pytest

from sole.envs.procedural.env import ProcEnv
from sole.envs.procedural.layouts import sample_world


@pytest.fixture(scope="module")
def pick():
    env = ProcEnv(sample_world(1, 0, ("pick-place",)), seed=3)
    yield env
    env.close()


def test_spaces_are_meta_worlds(pick):
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

    mw = ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE["pick-place-v3-goal-observable"](seed=0)
    assert pick.action_space == mw.action_space
    assert pick.observation_space.shape == mw.observation_space.shape == (39,)
    assert pick.max_path_length == mw.max_path_length == 500
    mw.close()


def test_observation_carries_hand_object_and_goal_only(pick):
    obs, _ = pick.reset()
    assert np.allclose(obs[0:3], pick.get_endeff_pos())
    assert np.allclose(obs[4:7], pick.data.body("obj0").xpos)
    assert np.allclose(obs[36:39], pick._target_pos)
    assert np.all(obs[11:18] == 0)  # no second object: distractors are not observed
    for p in pick.world.prims[1:]:
        xy = pick.data.body(p.name).xpos[:2]
        assert not any(np.allclose(obs[i:i + 2], xy) for i in range(len(obs) - 1))


def test_resets_jitter_the_layout_deterministically():
    a, b = (ProcEnv(sample_world(1, 0, ("pick-place",)), seed=s) for s in (4, 4))
    first = [a.reset()[0][4:7] for _ in range(2)]
    assert np.allclose(first[0], b.reset()[0][4:7]) and not np.allclose(first[0], first[1])
    assert np.all(np.abs(first[0][:2] - np.array(a.world.prims[0].xy)) <= 0.0151)
    a.close()
    b.close()


def test_mechanism_goal_is_the_handle_at_the_goal_value():
    env = ProcEnv(sample_world(0, 0, ("open",)), seed=0)
    env.reset()
    adr = env.model.jnt_qposadr[env.model.joint("mech_joint").id]
    env.data.qpos[adr] = env.world.qgoal
    import mujoco

    mujoco.mj_forward(env.model, env.data)
    assert np.allclose(env._get_site_pos("handle"), env._target_pos, atol=1e-6)
    assert env.task_error() < 1e-9 and env.evaluate_state(env._get_obs(), np.zeros(4))[1]["success"]
    env.close()
