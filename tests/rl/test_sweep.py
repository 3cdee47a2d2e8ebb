import json

import pytest

from sole.rl.sweep import SweepConfig, main


@pytest.mark.slow  # spawns two worker processes: ~15 s of CPU, a minute on a loaded 2-core machine
def test_sweep_runs_jobs_in_processes_and_compares(tmp_path):
    cfg = SweepConfig(tasks="drawer-close", rewards=("oracle-dense", "zero"), steps=100, eval_every=100,
                      eval_episodes=2, videos=0, workers=2, out=str(tmp_path))
    path = main(cfg)
    table = json.loads(path.read_text())
    assert set(table["drawer-close"]) == {"oracle-dense", "zero"}
    for res in table["drawer-close"].values():
        assert res["steps"] == [100] and 0.0 <= res["final_success"][0] <= 1.0
    assert (tmp_path / "curves.png").exists()
    assert (tmp_path / "drawer-close-zero-s0" / "result.json").exists()


def test_reward_with_named_reasoner_gets_its_own_run_and_label():
    jobs = SweepConfig(tasks="drawer-close", rewards=("oracle-dense", "sole", "sole=compact:fold-a"),
                       seeds=(1,)).jobs()
    assert [(j.reward, j.model) for j in jobs] == [("oracle-dense", ""), ("sole", ""), ("sole", "compact:fold-a")]
    assert [j.reward_label() for j in jobs] == ["oracle-dense", "sole", "sole=compact:fold-a"]
    assert [j.run_dir().name for j in jobs] == ["drawer-close-oracle-dense-s1", "drawer-close-sole-s1",
                                              "drawer-close-sole-compact-fold-a-s1"]
