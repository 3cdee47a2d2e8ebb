import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sole import cli
from sole.data.build import SynthConfig, main, plan
from sole.data.stats import StatsConfig
from sole.data.stats import main as stats
from sole.data.store import load_episodes
from sole.synth.rollouts import EVAL_KINDS

TINY = SynthConfig(tasks="reach,drawer-close", mix="expert=2,failure=1,reversed=1", eval_per_kind=0, shard_size=2,
                   workers=1, env_steps=8)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    return out, main(replace(TINY, out=str(out)))


def test_writes_episodes_of_every_task_and_kind(reference):
    out, result = reference
    assert result["train"]["episodes"] == 8 and result["train"]["shards"] == 4
    eps = load_episodes(out / "train")
    assert [(e.task, e.kind) for e in eps][:4] == [("reach", "expert"), ("reach", "expert"), ("reach", "failure"),
                                                   ("reach", "reversed")]
    assert {len(e) for e in eps} == {5}
    assert json.loads((out / "READY.json").read_text())["train"]["hash"] == result["train"]["hash"]


def test_two_workers_give_the_same_content(reference, tmp_path):
    _, result = reference
    two = main(replace(TINY, out=str(tmp_path), workers=2))
    assert two["train"]["hash"] == result["train"]["hash"]


def test_rerun_skips_finished_shards_and_rewrites_a_damaged_one(reference, tmp_path):
    _, result = reference
    cfg = replace(TINY, out=str(tmp_path))
    main(cfg)
    assert main(cfg)["train"]["written_shards"] == 0
    video = tmp_path / "train" / "videos" / "observation.images.wrist" / "chunk-000" / "file-002.mp4"
    video.write_bytes(video.read_bytes()[:50])
    again = main(cfg)["train"]
    assert again["written_shards"] == 1 and again["hash"] == result["train"]["hash"]


SOLE = [sys.executable, "-c", "from sole.cli import main; main()"]
"""The `sole` command of this checkout."""


def _run_until_first_shard(cfg: SynthConfig) -> subprocess.Popen:
    """``cfg`` run as `sole synth` in a process of its own, returned once its first shard is written."""
    cmd = [*SOLE, "synth", "--tasks", cfg.tasks, "--mix", cfg.mix, "--eval-per-kind", str(cfg.eval_per_kind),
           "--shard-size", str(cfg.shard_size), "--workers", str(cfg.workers), "--env-steps", str(cfg.env_steps),
           "--out", cfg.out]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list((Path(cfg.out) / "train" / "shards").glob("file-*.json")) and time.time() < deadline:
        time.sleep(0.05)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _children(pid: int) -> list[int]:
    """Pids of the live processes whose parent is ``pid`` (read from /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(stat.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_kill_9_mid_run_stops_the_workers_leaves_a_dataset_readers_refuse_and_a_rerun_finishes_it(reference,
                                                                                                  tmp_path):
    _, result = reference
    cfg = replace(TINY, out=str(tmp_path), workers=2)
    proc = _run_until_first_shard(cfg)
    workers = _children(proc.pid)
    assert len(workers) >= 2  # the pool's workers, busy with the next shards
    _kill(proc)
    deadline = time.time() + 5
    while any(map(_alive, workers)) and time.time() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _alive(pid)]
    for pid in left:  # none may keep writing, and none is left running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed run still alive after 5 s: {left}"
    assert len(list((tmp_path / "train" / "shards").glob("*.json"))) < 4  # killed before the end
    finish = f"finish it with `sole synth --out {tmp_path} --tasks reach,drawer-close"
    with pytest.raises(ValueError, match=f"incomplete .*no meta/info.json.*{finish}"):
        load_episodes(tmp_path)
    with pytest.raises(ValueError, match="incomplete"):
        stats(StatsConfig(root=str(tmp_path)))
    assert main(replace(cfg, workers=1))["train"]["hash"] == result["train"]["hash"]
    assert len(load_episodes(tmp_path)) == 8


def test_eval_split_has_disjoint_seeds_and_every_kind():
    cfg = replace(TINY, eval_per_kind=1)
    train = {s for j in plan(cfg, "train") for _, _, s in j.episodes}
    evals = [e for j in plan(cfg, "eval") for e in j.episodes]
    assert not train & {s for _, _, s in evals}
    assert [k for _, k, _ in evals] == 2 * list(EVAL_KINDS)


@pytest.mark.parametrize("change, message", [
    ({"mix": "expert=1,teleport=2"}, "unknown rollout kind 'teleport'"),
    ({"mix": "expert"}, "kind=count"),
    ({"tasks": "reach,fly"}, "unknown task 'fly'"),
    ({"workers": 0}, "workers >= 1"),
    ({"views": ("front",)}, "views must name each of external, wrist, scene at most once, got \\('front',\\)"),
    ({"mix": "expert=1", "eval_per_kind": 1, "tasks": "reach", "size": 0}, "size"),
])
def test_bad_config_is_a_clear_error_and_writes_nothing(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        main(replace(TINY, out=str(tmp_path / "out"), **change))
    assert not (tmp_path / "out").exists()


def test_a_refused_command_does_not_block_the_correct_rerun(tmp_path, capsys):
    """Through the command line: the bad views exit with a clear error, and the same command with good ones runs."""
    args = ["synth", "--tasks", "reach", "--mix", "expert=1", "--eval-per-kind", "0", "--env-steps", "8",
            "--workers", "1", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as bad:
        cli.main([*args, "--views", "front"])
    assert bad.value.code == 2 and "views must name each of" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    cli.main([*args, "--views", "external", "wrist"])
    assert len(load_episodes(tmp_path / "out")) == 1


def test_unwritable_output_and_foreign_dataset_are_errors(reference, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="not writable"):
        main(replace(TINY, out=str(blocker / "sub")))
    out, _ = reference
    with pytest.raises(ValueError, match="another config"):
        main(replace(TINY, out=str(out), seed=1))
    assert (out / "READY.json").exists() and (out / "train" / "meta" / "info.json").exists()  # still complete
    with pytest.raises(ValueError, match="views: \\['external', 'wrist'\\] on disk"):
        main(replace(TINY, out=str(out), views=("scene",)))


@pytest.mark.slow  # starting a local Ray takes ~30 s on 2 cores
def test_ray_backend_gives_the_same_content(reference, tmp_path):
    pytest.importorskip("ray")
    _, result = reference
    ray_result = main(replace(TINY, out=str(tmp_path), ray=True, workers=2))
    assert ray_result["train"]["hash"] == result["train"]["hash"]
