import numpy as np

from sole.envs.check import check_seed
from sole.envs.sim import make_env


def test_a_proc_task_renders_both_views():
    env = make_env("proc:1", size=32)
    env.reset()
    views = env.render_views()
    assert set(views) == {"external", "wrist"}
    assert all(v.shape == (32, 32, 3) and v.std() > 5 for v in views.values())
    assert env.privileged().facts.phase == "reach" and env.privileged().progress == 0.0
    env.close()


def test_labels_pass_the_meta_world_checks_on_a_generated_task():
    row = check_seed("proc:1", 0, 100, 2)
    assert row["success"] == 1.0 and row["start"] < 0.15 and row["at_success"] >= 0.95
    assert row["gate_errors"] == 0 and row["spearman"] >= 0.9 and row["random_final"] < 0.3
    assert row["undo_drop"] > 0.25


def test_expert_action_is_meta_worlds_shape():
    env = make_env("proc:0")
    env.reset()
    a = env.expert_action()
    assert a.shape == (4,) and np.all(np.abs(a) <= 1.0)
    env.close()
