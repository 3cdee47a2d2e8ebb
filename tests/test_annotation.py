import hashlib
import json
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest

from sole.annotation import PROGRESS, REASONING, AnnotateConfig, annotate, main
from sole.envs.tasks import get_task
from sole.models.base import Clip, reason
from sole.models.registry import load_reasoner
from sole.video import read_mp4


def _digest(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def _frames(path):
    rows = pq.read_table(path).to_pylist()
    return {(r["episode_index"], r["frame_index"]): r for r in rows}


@pytest.fixture
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("annotated") / "copy"


def test_annotated_copy_adds_progress_and_reasoning(dataset, tiny_checkpoint, out):
    root, eps = dataset
    before = _digest(root)
    cfg = AnnotateConfig(root=str(root), out=str(out), model=tiny_checkpoint, think=True, stride=2)
    assert annotate(cfg) == out
    assert _digest(root) == before  # the input is only read
    assert not (out / "cache").exists() and not (out / "shards").exists()
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"][PROGRESS]["dtype"] == "float32" and info["features"][REASONING]["dtype"] == "string"
    summary = json.loads((out / "meta" / "sole.json").read_text())
    assert [e["goal"] for e in summary["episodes"]] == [get_task("drawer-open").goals[0]] * 3
    # shard 0 holds episodes 0 and 1 back to back: read them as the reasoner reads any clip
    reasoner = load_reasoner(tiny_checkpoint)
    video = {v: read_mp4(root / f"videos/observation.images.{v}/chunk-000/file-000.mp4") for v in reasoner.views}
    want = reason(reasoner, [Clip({v: f[5 * i: 5 * i + 5] for v, f in video.items()}) for i in (0, 1)],
                  [get_task("drawer-open").goals[0]] * 2, think=True, stride=2)
    got = _frames(out / "data/chunk-000/file-000.parquet")
    for i, judged in enumerate(want):
        assert np.allclose([got[(i, t)][PROGRESS] for t in range(5)], judged.per_frame, atol=1e-6)
        texts = [got[(i, t)][REASONING] for t in range(5)]
        assert [t for t, x in enumerate(texts) if x] == [2, 4] and texts[4] == judged.steps[-1][1].text
    # every stored column is kept, and the features LeRobot builds its dataset from are exactly the data columns
    assert set(pq.read_table(root / "data/chunk-000/file-000.parquet").column_names) < set(got[(0, 0)])
    assert {k for k, f in info["features"].items() if f["dtype"] != "video"} == set(got[(0, 0)])


def test_some_episodes_and_a_view_mapping(dataset, tiny_checkpoint, out):
    root, _ = dataset
    cfg = AnnotateConfig(root=str(root), out=str(out), model=tiny_checkpoint, episodes=(2,), goal="close the window",
                         views=("wrist=observation.images.external", "external=observation.images.wrist"))
    main(cfg)
    rows = {**_frames(out / "data/chunk-000/file-000.parquet"), **_frames(out / "data/chunk-000/file-001.parquet")}
    assert all(np.isnan(r[PROGRESS]) for (e, _), r in rows.items() if e != 2)
    assert all(np.isfinite(r[PROGRESS]) and r[REASONING] == "" for (e, _), r in rows.items() if e == 2)
    summary = json.loads((out / "meta" / "sole.json").read_text())
    assert summary["views"]["wrist"] == "observation.images.external" and summary["episodes"][0]["goal"] == (
        "close the window")


def test_bad_input_is_a_clear_error_and_writes_nothing(dataset, tiny_checkpoint, out, tmp_path_factory):
    root, _ = dataset
    cfg = AnnotateConfig(root=str(root), out=str(out), model=tiny_checkpoint)
    with pytest.raises(ValueError, match="no video key .* observation.images.external, observation.images.wrist"):
        annotate(replace(cfg, views=("wrist=observation.images.top",)))
    with pytest.raises(ValueError, match=r"episodes \[7\] are not in"):
        annotate(replace(cfg, episodes=(7,)))
    with pytest.raises(ValueError, match="inside --root"):
        annotate(replace(cfg, out=str(root / "copy")))
    with pytest.raises(FileNotFoundError, match="no LeRobot dataset"):
        annotate(replace(cfg, root=str(tmp_path_factory.mktemp("empty"))))
    assert not out.exists()
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        annotate(cfg)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    info = json.loads((root / "meta" / "info.json").read_text())
    (root / "meta" / "info.json").write_text(json.dumps(info | {"codebase_version": "v2.1"}))
    with pytest.raises(ValueError, match="v2.1 dataset.*convert"):
        annotate(replace(cfg, out=str(out.parent / "other")))


def test_annotating_an_annotated_copy_replaces_its_columns(dataset, tiny_checkpoint, tmp_path_factory):
    root, _ = dataset
    first = annotate(AnnotateConfig(root=str(root), out=str(tmp_path_factory.mktemp("a") / "one"),
                                    model=tiny_checkpoint))
    again = annotate(AnnotateConfig(root=str(first), out=str(tmp_path_factory.mktemp("b") / "two"),
                                    model=tiny_checkpoint, goal="close the window"))
    names = pq.read_table(again / "data/chunk-000/file-000.parquet").column_names
    assert names.count(PROGRESS) == 1 and names.count(REASONING) == 1
    assert not [p for p in again.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_failed_write_leaves_nothing_behind(dataset, tiny_checkpoint, out, monkeypatch):
    import sole.annotation

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(sole.annotation, "annotated_table", broken)
    with pytest.raises(OSError, match="disk full"):
        annotate(AnnotateConfig(root=str(dataset[0]), out=str(out), model=tiny_checkpoint))
    assert not out.exists() and not list(out.parent.iterdir())


def test_one_camera_is_never_given_to_two_views(dataset, tiny_checkpoint, out):
    root, _ = dataset
    cfg = AnnotateConfig(root=str(root), out=str(out), model=tiny_checkpoint)
    with pytest.raises(ValueError, match="camera observation.images.external to views external, wrist.*wrist=none"):
        annotate(replace(cfg, views=("wrist=observation.images.external",)))
    with pytest.raises(ValueError, match=r"maps \['wrist'\] more than once"):
        annotate(replace(cfg, views=("wrist=observation.images.wrist", "wrist=observation.images.external")))
    with pytest.raises(ValueError, match="leaves every view"):
        annotate(replace(cfg, views=("wrist=none", "external=none")))
    assert not out.exists()


def test_one_camera_reads_the_other_view_black_and_says_so(dataset, tiny_checkpoint, out):
    root, _ = dataset
    reasoner = load_reasoner(tiny_checkpoint)
    annotate(AnnotateConfig(root=str(root), out=str(out), views=("wrist=none",), episodes=(0,)), reasoner)
    summary = json.loads((out / "meta" / "sole.json").read_text())
    assert summary["views"] == {"external": "observation.images.external", "wrist": None}
    assert summary["notes"] == ["no camera for the wrist view (--views wrist=none): the model sees black frames there"]
    external = read_mp4(root / "videos/observation.images.external/chunk-000/file-000.mp4")[:5]
    want = reason(reasoner, [Clip({"external": external, "wrist": np.zeros_like(external)})],
                  [get_task("drawer-open").goals[0]], think=False)[0]
    got = _frames(out / "data/chunk-000/file-000.parquet")
    assert np.allclose([got[(0, t)][PROGRESS] for t in range(5)], want.per_frame, atol=1e-6)
    assert summary["episodes"][0]["parse_failures"] == want.parse_failures


def test_a_non_empty_out_is_one_clear_line(dataset, out, capsys):
    from sole.cli import main as cli

    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_:
        cli(["annotate", "--root", str(dataset[0]), "--out", str(out), "--model", "const:0.5"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "not empty" in err and "Traceback" not in err and len(err.splitlines()) == 1


KILLED_RUN = """
import sys, time
import sole.annotation as a
a.annotated_table = lambda *args: time.sleep(60)  # hold on once the temporary copy is written
a.annotate(a.AnnotateConfig(root=sys.argv[1], out=sys.argv[2], model="const:0.5", views=("wrist=none",)))
"""


def test_a_killed_run_leaves_no_temporary_copy_after_the_next(dataset, out):
    import signal
    import subprocess
    import sys
    import time

    root, _ = dataset
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(root), str(out)])
    stale = out.with_name(f".{out.name}.{proc.pid}.tmp")
    deadline = time.time() + 60
    while not (stale / "meta" / "info.json").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert stale.is_dir()  # what a killed run leaves
    annotate(AnnotateConfig(root=str(root), out=str(out), model="const:0.5", episodes=(0,)))
    assert not stale.exists() and sorted(p.name for p in out.parent.iterdir()) == [out.name]


RABC_CHECK = """
import json, sys
from lerobot.utils.rabc import RABCWeights
import torch
w = RABCWeights(progress_path=sys.argv[1], chunk_size=2, head_mode="sparse")
weights, _ = w.compute_batch_weights({"index": torch.arange(15)})
print(json.dumps({"n": len(w.progress_lookup), "episodes": sorted(int(e) for e in w.episode_boundaries),
                  "weights": len(weights)}))
"""


def test_reward_column_progress_table_and_stats(dataset, tiny_checkpoint, out):
    from sole.annotation import PROGRESS_FILE, REWARD

    root, _ = dataset
    annotate(AnnotateConfig(root=str(root), out=str(out), model=tiny_checkpoint, episodes=(0, 2), reward=True,
                            progress_parquet=True))
    rows = {**_frames(out / "data/chunk-000/file-000.parquet"), **_frames(out / "data/chunk-000/file-001.parquet")}
    assert all(r[REWARD] == r[PROGRESS] for (e, _), r in rows.items() if e != 1)
    assert all(np.isnan(r[REWARD]) for (e, _), r in rows.items() if e == 1)  # not annotated, no reward before
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["features"][REWARD] == {"dtype": "float32", "shape": [1], "names": None}
    stats = json.loads((out / "meta" / "stats.json").read_text())
    annotated = np.array([r[PROGRESS] for (e, _), r in rows.items() if e != 1])
    assert stats[PROGRESS]["count"] == [10] and stats[PROGRESS]["max"] == pytest.approx([annotated.max()])
    assert stats[PROGRESS]["q50"] == pytest.approx([np.quantile(annotated, 0.5)]) and REWARD in stats
    table = pq.read_table(out / PROGRESS_FILE)
    assert table.column_names == ["index", "episode_index", "frame_index", "progress_sparse"]
    assert table["index"].to_pylist() == list(range(15))
    progress = dict(zip(table["index"].to_pylist(), table["progress_sparse"].to_pylist(), strict=True))
    assert progress[0] == pytest.approx(rows[(0, 0)][PROGRESS]) and np.isnan(progress[5])
    from tests.data.test_store import lerobot_python

    python = lerobot_python()
    if python is None:
        pytest.skip("lerobot is not installed (set LEROBOT_PYTHON to a Python that has it)")
    import subprocess

    run = subprocess.run([python, "-c", RABC_CHECK, str(out / PROGRESS_FILE)], capture_output=True, text=True,
                         check=True)
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"n": 10, "episodes": [0, 1, 2], "weights": 15}


def _as_image_dataset(root):
    """The fixture dataset with its external camera stored as PNG images in the data parquet (LeRobot's
    ``use_videos=False``) and its wrist camera dropped: one image-stored camera."""
    import io
    import shutil

    import pyarrow as pa
    from PIL import Image

    info = json.loads((root / "meta" / "info.json").read_text())
    video = read_mp4(root / "videos/observation.images.external/chunk-000/file-000.mp4")
    for path, start in ((root / "data/chunk-000/file-000.parquet", 0), (root / "data/chunk-000/file-001.parquet", 10)):
        table = pq.read_table(path)
        frames = video[start: start + table.num_rows] if start == 0 else read_mp4(
            root / "videos/observation.images.external/chunk-000/file-001.mp4")
        cells = []
        for f in frames:
            buf = io.BytesIO()
            Image.fromarray(f).save(buf, format="PNG")
            cells.append({"bytes": buf.getvalue(), "path": None})
        pq.write_table(table.append_column("observation.image", pa.array(cells)), path)
    shutil.rmtree(root / "videos")
    features = {k: f for k, f in info["features"].items() if f.get("dtype") != "video"}
    features["observation.image"] = {"dtype": "image", "shape": [64, 64, 3], "names": ["height", "width", "channel"]}
    (root / "meta" / "info.json").write_text(json.dumps(info | {"features": features}))
    return video


def test_an_image_stored_single_camera_dataset_is_read_from_its_parquet(dataset, tiny_checkpoint, out):
    root, _ = dataset
    video = _as_image_dataset(root)
    reasoner = load_reasoner(tiny_checkpoint)
    annotate(AnnotateConfig(root=str(root), out=str(out), views=("external=observation.image", "wrist=none"),
                            episodes=(1,)), reasoner)
    want = reason(reasoner, [Clip({"external": video[5:10], "wrist": np.zeros_like(video[5:10])})],
                  [get_task("drawer-open").goals[0]], think=False)[0]
    got = _frames(out / "data/chunk-000/file-000.parquet")
    assert np.allclose([got[(1, t)][PROGRESS] for t in range(5)], want.per_frame, atol=1e-6)
