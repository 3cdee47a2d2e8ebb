import json
import os
import signal
import subprocess
import sys
import time

import pytest

from sole.rl.benchmark import BenchmarkConfig, interval, main, summarize
from sole.rl.runs import current_checkpoint, read_metrics
from sole.rl.suites import PUBLISHED, SUITES, resolve_suite
from sole.rl.sweep import reward_source

TINY = dict(seeds=1, steps=200, eval_every=100, eval_episodes=2, checkpoint_every=100, workers=1, algo="sb3-sac")


def test_a_tiny_benchmark_runs_end_to_end_and_summarises(tmp_path):
    cfg = BenchmarkConfig(suite="reach,drawer-close", rewards=("oracle-dense", "zero"), out=str(tmp_path), **TINY)
    summary = json.loads(main(cfg).read_text())
    assert set(summary["tasks"]) == {"reach", "drawer-close"} and summary["reference"] == "oracle-dense"
    for by_reward in summary["tasks"].values():
        assert set(by_reward) == {"oracle-dense", "zero"}
        for res in by_reward.values():
            assert res["compared_at"] == 200 and res["final_success"]["n"] == 1
            assert res["final_success"]["ci95"] is None  # one seed gives no interval
            assert 0.0 <= res["last5_success"]["mean"] <= 1.0 and 0.0 <= res["hacking"]["mean"] <= 1.0
    assert sorted(summary["suite_tasks"]) == ["drawer-close", "reach"]
    assert summary["published"] == []  # a task list is no published suite
    assert "1 seed(s)" in summary["protocol"] and (tmp_path / "curves.png").exists()
    for name in ("reach-oracle-dense-s0", "drawer-close-zero-s0"):
        assert json.loads((tmp_path / name / "result.json").read_text())["steps"] == 200
    mtimes = {p: p.stat().st_mtime for p in tmp_path.glob("*/result.json")}
    main(cfg)  # every run finished: nothing is trained again
    assert {p: p.stat().st_mtime for p in tmp_path.glob("*/result.json")} == mtimes


def _table(oracle, other):
    def res(success):
        return {"compared_at": 100, "final_success": success, "last5_success": success,
                "final_hacking": [0.0] * len(success)}
    return {"a": {"oracle-dense": res(oracle[0]), "sole=held-out": res(other[0])},
            "b": {"oracle-dense": res(oracle[1])}}


def test_suite_means_cover_the_tasks_every_reward_reached_and_divide_by_the_oracle():
    summary = summarize(_table(([1.0, 0.5], [0.2]), ([0.5, 0.25], [0.8])), ["sole=held-out", "oracle-dense"])
    assert summary["suite_tasks"] == ["a"]  # task b has no held-out run yet
    means = summary["suite_means"]
    assert means["oracle-dense"]["final_success"] == pytest.approx(0.75)
    assert means["sole=held-out"]["ratio_to_reference"] == pytest.approx(0.375 / 0.75)
    assert summary["tasks"]["a"]["oracle-dense"]["final_success"]["ci95"][0] < 0.75


def test_the_interval_is_the_t_interval_over_seeds():
    res = interval([0.2, 0.4, 0.6])
    half = 4.302652729911275 * 0.2 / 3 ** 0.5  # t(0.975, 2) x sd / sqrt(n)
    assert res["mean"] == pytest.approx(0.4) and res["ci95"] == pytest.approx([0.4 - half, 0.4 + half])


def test_suites_and_published_numbers_are_the_papers():
    assert len(SUITES["rewind8"]) == 8 and len(SUITES["sole17"]) == 17 and len(SUITES["all50"]) == 50
    assert resolve_suite("rewind8") == SUITES["rewind8"] and resolve_suite("reach") == ("reach",)
    with pytest.raises(ValueError):
        resolve_suite("no-such-task")
    assert {p.suite for p in PUBLISHED} == set(SUITES)
    assert all(0 < p.success < 1 and p.source and p.protocol for p in PUBLISHED)


def test_a_bare_reasoner_spec_is_the_sole_source_and_at_k_its_query_rate():
    assert reward_source("held-out") == ("sole", "held-out", 1)
    assert reward_source("oracle-dense") == ("oracle-dense", "", 1)
    assert reward_source("sole=compact@5") == ("sole", "compact", 5)
    with pytest.raises(ValueError, match="whole number"):
        reward_source("held-out@x")
    jobs = BenchmarkConfig(suite="reach", rewards=("held-out", "held-out@2", "held-out@10"), seeds=1).jobs()
    assert [j.reward.every for j in jobs] == [1, 2, 10]
    assert [j.run_dir().name for j in jobs] == ["reach-sole-held-out-s0", "reach-sole-held-out@2-s0",
                                              "reach-sole-held-out@10-s0"]


@pytest.mark.slow  # a real benchmark process, killed and rerun: about a minute on a loaded 2-core machine
def test_a_benchmark_killed_with_sigkill_resumes_losing_at_most_one_checkpoint_interval(tmp_path):
    args = ["--suite", "drawer-close", "--rewards", "oracle-dense", "--seeds", "1", "--steps", "600",
            "--eval-every", "300", "--eval-episodes", "2", "--checkpoint-every", "100", "--workers", "1",
            "--algo", "sb3-sac",
            "--out", str(tmp_path)]
    cmd = [sys.executable, "-c", "import sys; from sole.cli import main; main(sys.argv[1:])", "benchmark", "rl", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    run = tmp_path / "drawer-close-oracle-dense-s0"
    try:
        deadline = time.monotonic() + 300
        while (ckpt := _checkpoint_step(run)) < 200:
            assert proc.poll() is None and time.monotonic() < deadline, "the benchmark ended before its checkpoint"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the benchmark and its worker process, mid-run
        proc.wait()
    assert not (run / "result.json").exists()
    folder, step = current_checkpoint(run)  # one whole checkpoint survives
    assert step >= ckpt and (folder / "model.zip").exists() and (folder / "replay.pkl").exists()
    main(BenchmarkConfig(suite="drawer-close", rewards=("oracle-dense",), seeds=1, steps=600, eval_every=300,
                         eval_episodes=2, checkpoint_every=100, workers=1, algo="sb3-sac", out=str(tmp_path)))
    assert json.loads((run / "result.json").read_text())["steps"] == 600
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [300, 600]


def _checkpoint_step(run) -> int:
    try:
        return current_checkpoint(run)[1] if current_checkpoint(run) else 0
    except FileNotFoundError:
        return 0
