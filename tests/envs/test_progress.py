import numpy as np
import pytest

from sole.envs.check import act
from sole.envs.progress import GOALS, SOLVED_FLOOR, UNSOLVED_CEILING
from sole.envs.sim import make_env
from sole.envs.tasks import TASKS

PHASES = {"reach", "grasp", "carry", "move", "done"}


def test_every_task_has_a_goal_with_a_threshold():
    assert set(GOALS) == set(TASKS)
    assert all(g.radius >= 0 and g.contact >= 0 for g in GOALS.values())


@pytest.mark.parametrize("task", ["window-close", "pick-place"])
def test_expert_progress_rises_to_success_without_a_jump(task):
    env = make_env(task, seed=3)
    try:
        env.reset()
        labels = [env.privileged()] + [act(env, env.expert_action(), 2) for _ in range(70)]
    finally:
        env.close()
    progress = np.array([p.progress for p in labels])
    first = next(i for i, p in enumerate(labels) if p.success)
    assert progress[0] < 0.15
    assert progress[first] >= SOLVED_FLOOR and labels[first].terms["raw"] > 0.9
    assert all((p.progress >= SOLVED_FLOOR) == p.success for p in labels)
    assert progress[:first].max() <= UNSOLVED_CEILING and progress[first - 5] > 0.5
    assert {p.facts.phase for p in labels} <= PHASES and labels[first].facts.phase == "done"
    if task == "pick-place":
        assert any(p.facts.grasped for p in labels) and "carry" in {p.facts.phase for p in labels}


def test_error_threshold_matches_metaworld_success():
    env = make_env("window-close", seed=1)
    try:
        env.reset()
        for _ in range(120):
            env.step(env.expert_action())
            p = env.privileged()
            assert p.success == (p.terms["error"] <= GOALS["window-close"].radius)
    finally:
        env.close()


def test_driving_the_object_back_lowers_progress():
    env = make_env("drawer-open", seed=0)
    try:
        env.reset()
        start = env.object_qpos()
        done = env.privileged()
        for _ in range(100):
            if done.terms["move"] > 0.5:
                break
            done = act(env, env.expert_action(), 2)
        env.set_object_qpos(start)
        back = env.privileged()
    finally:
        env.close()
    assert done.terms["move"] > 0.5
    assert back.terms["move"] < 0.05 and back.progress < done.progress - 0.4
