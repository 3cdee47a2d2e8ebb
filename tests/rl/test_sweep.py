import json
from dataclasses import replace
from pathlib import Path

import pytest

import sole.rl.sac as sac
from sole.rl.runs import config_hash
from sole.rl.sweep import SweepConfig, main, record, run_job


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
    assert json.loads((tmp_path / "sweeps.jsonl").read_text())["rewards"] == ["oracle-dense", "zero"]


def test_each_sweep_into_a_folder_is_recorded(tmp_path):
    record(SweepConfig(tasks="drawer-close", seeds=(0,)), tmp_path)
    record(SweepConfig(tasks="window-close", seeds=(1, 2)), tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "sweeps.jsonl").read_text().splitlines()]
    assert [(r["tasks"], r["seeds"]) for r in rows] == [("drawer-close", [0]), ("window-close", [1, 2])]


def test_reward_with_named_reasoner_gets_its_own_run_and_label():
    jobs = SweepConfig(tasks="drawer-close", rewards=("oracle-dense", "sole", "sole=compact:held-out-a"),
                       seeds=(1,)).jobs()
    assert [(j.reward.source, j.reward.model) for j in jobs] == [("oracle-dense", ""), ("sole", ""),
                                                                 ("sole", "compact:held-out-a")]
    assert [j.reward.label() for j in jobs] == ["oracle-dense", "sole", "sole=compact:held-out-a"]
    assert [j.run_dir().name for j in jobs] == ["drawer-close-oracle-dense-s1", "drawer-close-sole-s1",
                                              "drawer-close-sole-compact-held-out-a-s1"]
    ckpt = SweepConfig(tasks="drawer-close", rewards=("sole=runs/sft/final",), out="runs/x").jobs()[0]
    assert ckpt.run_dir() == Path("runs/x/drawer-close-sole-runs-sft-final-s0")  # one folder per run
    ens = SweepConfig(tasks="drawer-close", rewards=("sole=min:compact:held-out-{fold}+runs/s1-{fold}/final",))
    ens = ens.jobs()[0]
    assert ens.run_dir().name == "drawer-close-sole-min-compact-held-out-fold-runs-s1-fold-final-s0"
    mean = SweepConfig(tasks="drawer-close", rewards=("sole=mean:0.2*compact:held-out-a+0.8*runs/x/final",)).jobs()[0]
    assert mean.run_dir().name == "drawer-close-sole-mean-0.2-compact-held-out-a-0.8-runs-x-final-s0"


def _write_evals(run_dir, successes, every=1000):
    run_dir.mkdir(parents=True)
    rows = [{"step": every * (i + 1), "eval/success": s, "eval/ever_success": s, "eval/hacking_rate": 0.0,
             "eval/true_progress": s, "eval/reward_progress": s} for i, s in enumerate(successes)]
    (run_dir / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_no_run_compares_stopped_runs_at_the_last_step_all_reached(tmp_path):
    cfg = SweepConfig(tasks="drawer-close", rewards=("oracle-dense", "sole"), seeds=(0, 1), run=False,
                      out=str(tmp_path))
    _write_evals(tmp_path / "drawer-close-oracle-dense-s0", [0.0, 0.5, 1.0, 1.0])
    _write_evals(tmp_path / "drawer-close-oracle-dense-s1", [0.0, 0.1, 0.3])
    _write_evals(tmp_path / "drawer-close-sole-s0", [0.0, 0.2])
    _write_evals(tmp_path / "drawer-close-sole-s1", [0.0, 0.4, 0.6])
    table = json.loads(main(cfg).read_text())["drawer-close"]
    assert table["oracle-dense"]["compared_at"] == table["sole"]["compared_at"] == 2000
    assert table["oracle-dense"]["final_success"] == [0.5, 0.1] and table["sole"]["final_success"] == [0.2, 0.4]
    assert table["oracle-dense"]["steps"] == [1000, 2000, 3000]  # curves run as far as all seeds of a reward did
    assert table["sole"]["reward_progress_curve"] == pytest.approx([0.0, 0.3])  # drawn under the success panel
    assert (tmp_path / "curves.png").exists()
    assert not (tmp_path / "drawer-close-sole-s0" / "result.json").exists()  # nothing was trained


def test_runs_on_different_evaluation_schedules_meet_at_a_step_they_share(tmp_path):
    cfg = SweepConfig(tasks="drawer-close", rewards=("oracle-dense", "sole"), seeds=(0,), run=False,
                      out=str(tmp_path))
    _write_evals(tmp_path / "drawer-close-oracle-dense-s0", [0.0, 0.5, 0.7, 0.9], every=2000)  # to 8000
    _write_evals(tmp_path / "drawer-close-sole-s0", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8], every=1000)  # to 7000
    table = json.loads(main(cfg).read_text())["drawer-close"]
    assert table["oracle-dense"]["compared_at"] == table["sole"]["compared_at"] == 6000
    assert table["oracle-dense"]["final_success"] == [0.7] and table["sole"]["final_success"] == [0.6]
    assert table["sole"]["steps"] == [1000, 2000, 3000, 4000, 5000, 6000, 7000]


def test_a_job_is_skipped_only_when_its_folder_holds_the_same_config(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(sac, "main", lambda cfg: trained.append(cfg) or cfg.run_dir())
    job = SweepConfig(tasks="drawer-close", rewards=("oracle-dense",), steps=100, out=str(tmp_path)).jobs()[0]
    job.run_dir().mkdir(parents=True)
    result = job.run_dir() / "result.json"
    result.write_text(json.dumps({"steps": 100, "config_hash": config_hash(replace(job, lr=1e-3))}))
    run_job(job)  # a finished run of other settings under the same name is not this job's result
    assert trained == [job]
    result.write_text(json.dumps({"steps": 100, "config_hash": config_hash(replace(job, videos=0))}))
    run_job(job)
    assert trained == [job]


def test_a_bad_reward_fails_before_the_sweep_writes(tmp_path):
    with pytest.raises(ValueError, match="unknown reasoner 'nosuch'"):
        main(SweepConfig(tasks="drawer-close", rewards=("sole=nosuch",), out=str(tmp_path / "sweep")))
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow  # starts a local Ray instance; its worker imports sole and trains: minutes on a loaded machine
@pytest.mark.timeout(900)
def test_a_sweep_runs_its_jobs_on_a_ray_cluster(tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False)
    try:
        cfg = SweepConfig(tasks="drawer-close", rewards=("zero",), steps=100, eval_every=100, eval_episodes=2,
                          videos=0, ray_address="auto", out=str(tmp_path))
        table = json.loads(main(cfg).read_text())
    finally:
        ray.shutdown()
    assert table["drawer-close"]["zero"]["steps"] == [100]
    assert (tmp_path / "drawer-close-zero-s0" / "result.json").exists()


def test_the_live_board_counts_runs_and_the_steps_each_reached(tmp_path):
    from concurrent.futures import Future

    from rich.console import Console

    from sole.rl.sweep import Board

    jobs = SweepConfig(tasks="drawer-close", rewards=("zero",), seeds=(0, 1, 2), steps=4000, out=str(tmp_path)).jobs()
    board = Board(jobs, jobs[1:])  # the first run finished before the sweep started
    running, waiting = Future(), Future()
    running.set_running_or_notify_cancel()
    board.futures = {running: jobs[1], waiting: jobs[2]}
    _write_evals(tmp_path / "drawer-close-zero-s1", [0.0, 0.5])  # the running run reached step 2000
    console = Console(record=True, width=200)
    console.print(board.table())
    text = " ".join(console.export_text().split())
    assert "1 done, 1 running, 2 left, 0 failed" in text
    assert "drawer-close-zero-s1" in text and "2000/4000" in text and "drawer-close-zero-s2" not in text
