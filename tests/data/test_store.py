import json
import os
import subprocess
import sys

import imageio_ffmpeg
import numpy as np
import pyarrow.parquet as pq
import pytest

from sole.data import store


def test_round_trip_through_the_cache(dataset):
    root, eps = dataset
    back = store.load_episodes(root)
    assert [e.index for e in back] == [0, 1, 2]
    for a, b in zip(eps, back, strict=True):
        assert (a.task, a.kind, a.seed, a.success, a.meta, a.facts) == (b.task, b.kind, b.seed, b.success, b.meta,
                                                                        b.facts)
        assert all(np.array_equal(a.frames[v], b.frames[v]) for v in a.frames)
        assert all(np.array_equal(a.labels[g], b.labels[g]) for g in a.labels)
        assert np.array_equal(a.actions, b.actions)
    assert [e.index for e in store.load_episodes(root, kinds=["undo"])] == [1]
    assert store.load_episodes(root, tasks=["reach"]) == []
    with pytest.raises(ValueError, match="unknown task"):
        store.load_episodes(root, tasks=["teleport"])


def test_lerobot_v3_layout(dataset):
    root, eps = dataset
    info = json.loads((root / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 3 and info["total_frames"] == 15
    for key in ("observation.images.external", "observation.images.wrist", "observation.state", "action",
                "timestamp", "frame_index", "episode_index", "index", "task_index", "progress", "kind", "facts",
                "labels"):
        assert key in info["features"], key
    data = pq.read_table(root / info["data_path"].format(chunk_index=0, file_index=0)).to_pylist()
    assert [r["index"] for r in data] == list(range(10)) and data[6]["frame_index"] == 1
    assert json.loads(data[6]["labels"]) == {"drawer-close": 0.75, "drawer-open": 0.25}
    assert json.loads(data[6]["facts"]) == eps[1].facts[1]
    meta = pq.read_table(root / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [(m["dataset_from_index"], m["dataset_to_index"]) for m in meta] == [(0, 5), (5, 10)]
    assert meta[1]["videos/observation.images.wrist/from_timestamp"] == 5 / store.FPS
    tasks = pq.read_table(root / "meta" / "tasks.parquet").to_pylist()
    assert tasks[data[0]["task_index"]]["name"] == "drawer-open"
    video = root / info["video_path"].format(video_key="observation.images.external", chunk_index=0, file_index=0)
    reader = imageio_ffmpeg.read_frames(str(video))
    meta_v = next(reader)
    assert meta_v["size"] == (64, 64) and sum(1 for _ in reader) == 10


def test_truncated_cache_is_an_error_and_a_shard_to_redo(dataset):
    root, _ = dataset
    cache = root / "cache" / "chunk-000" / "file-001.npz"
    cache.write_bytes(cache.read_bytes()[:-100])
    with pytest.raises(ValueError, match="shard 1 .* damaged"):
        store.load_episodes(root)
    assert store.shard_status(root, 1, [2])[0] == "corrupt"
    assert store.shard_status(root, 0, [0, 1]) == ("done", [])
    assert store.shard_status(root, 0, [0])[0] == "corrupt"
    assert store.shard_status(root, 2, [3])[0] == "missing"


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no dataset"):
        store.load_episodes(tmp_path)


def test_tasks_table_reads_like_lerobot_expects(dataset):
    pd = pytest.importorskip("pandas")
    tasks = pd.read_parquet(dataset[0] / "meta" / "tasks.parquet")
    assert tasks.loc["open the drawer", "task_index"] == tasks.index.get_loc("open the drawer")
    assert tasks.loc["open the drawer", "name"] == "drawer-open"


LEROBOT_CHECK = """
import json, sys
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/sole", root=sys.argv[1], video_backend="pyav")
item = ds[6]
print(json.dumps({"len": len(ds), "episodes": ds.num_episodes, "task": item["task"], "kind": item["kind"],
                  "progress": float(item["progress"]), "frame_index": int(item["frame_index"]),
                  "external": (item["observation.images.external"].numpy() * 255).round().tolist()}))
"""


def lerobot_python() -> str | None:
    """A Python that imports `lerobot` (LEROBOT_PYTHON, else this one); lerobot pins an older torch, so it
    usually lives in its own environment."""
    python = os.environ.get("LEROBOT_PYTHON", sys.executable)
    ok = subprocess.run([python, "-c", "import lerobot"], capture_output=True).returncode == 0
    return python if ok else None


def test_lerobot_package_opens_the_dataset(dataset):
    python = lerobot_python()
    if python is None:
        pytest.skip("lerobot is not installed (set LEROBOT_PYTHON to a Python that has it)")
    root, eps = dataset
    run = subprocess.run([python, "-c", LEROBOT_CHECK, str(root)], capture_output=True, text=True, check=True)
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert (got["len"], got["episodes"], got["task"], got["kind"]) == (15, 3, "open the drawer", "undo")
    assert got["frame_index"] == 1 and got["progress"] == pytest.approx(float(eps[1].labels["drawer-open"][1]))
    decoded = np.transpose(np.asarray(got["external"]), (1, 2, 0))
    assert np.abs(decoded - eps[1].frames["external"][1]).mean() < 60  # random noise frames, lossy mp4


def test_a_dataset_not_marked_complete_is_refused_with_the_command_that_finishes_it(dataset):
    root, _ = dataset
    store.write_json(root / "config.json", {"command": "sole synth --out x --seed 3"})
    (root / "meta" / "info.json").unlink()
    for read in (store.load_episodes, store.load_datasets, store.dataset_summary, store.require_complete):
        with pytest.raises(ValueError, match=r"incomplete \(3 episodes written, no meta/info.json\).*"
                                             r"finish it with `sole synth --out x --seed 3`"):
            read(str(root))
    store.write_meta(root, [store.read_manifest(root, 0)], size=64)  # counts the first shard's episodes only
    with pytest.raises(ValueError, match="meta/info.json counts 2"):
        store.load_episodes(root)
    store.write_meta(root, [store.read_manifest(root, s) for s in (0, 1)], size=64)
    assert store.require_complete(root) == root and len(store.load_episodes(root)) == 3


def test_a_generated_task_is_written_with_its_goal_in_the_task_table(tmp_path):
    from sole.synth.episode import Episode

    n = 3
    facts = [{"t": t, "task": "proc:1", "hand": [0.0, 0.6, 0.2], "gripper_open": 1.0} for t in range(n)]
    ep = Episode(task="proc:1", kind="expert", seed=0, frames={"external": np.zeros((n, 64, 64, 3), np.uint8)},
                 labels={"proc:1": np.zeros(n, np.float32)}, facts=facts, actions=np.zeros((n, 4), np.float32),
                 success=False, index=0, meta={})
    store.write_shard(tmp_path, 0, [ep], [0])
    store.write_meta(tmp_path, [store.read_manifest(tmp_path, 0)], size=64)
    tasks = pq.read_table(tmp_path / "meta" / "tasks.parquet").to_pydict()
    assert tasks["name"][-1] == "proc:1" and tasks["task_index"][-1] == 52 and tasks["task"][-1].startswith("stack")
    assert pq.read_table(tmp_path / "data" / "chunk-000" / "file-000.parquet")["task_index"][0].as_py() == 52
