import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sole.data.build import SynthConfig, main, plan
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


def test_kill_9_mid_run_then_rerun_gives_the_same_content(reference, tmp_path):
    _, result = reference
    cmd = [str(Path(sys.executable).parent / "sole"), "synth", "--tasks", TINY.tasks, "--mix", TINY.mix,
           "--eval-per-kind", "0", "--shard-size", "2", "--workers", "1", "--env-steps", "8", "--out", str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list((tmp_path / "train" / "shards").glob("file-*.json")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list((tmp_path / "train" / "shards").glob("*.json"))) < 4  # killed before the end
    assert main(replace(TINY, out=str(tmp_path)))["train"]["hash"] == result["train"]["hash"]


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
])
def test_bad_config_is_a_clear_error(change, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        main(replace(TINY, out=str(tmp_path), **change))


def test_unwritable_output_and_foreign_dataset_are_errors(reference, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="not writable"):
        main(replace(TINY, out=str(blocker / "sub")))
    out, _ = reference
    with pytest.raises(ValueError, match="another config"):
        main(replace(TINY, out=str(out), seed=1))
    with pytest.raises(ValueError, match="views: \\['external', 'wrist'\\] on disk"):
        main(replace(TINY, out=str(out), views=("scene",)))


@pytest.mark.slow  # starting a local Ray takes ~30 s on 2 cores
def test_ray_backend_gives_the_same_content(reference, tmp_path):
    pytest.importorskip("ray")
    _, result = reference
    ray_result = main(replace(TINY, out=str(tmp_path), ray=True, workers=2))
    assert ray_result["train"]["hash"] == result["train"]["hash"]
