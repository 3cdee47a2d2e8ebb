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
                         views=("wrist=observation.images.external",))
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

    def broken(table, notes):
        raise OSError("disk full")

    monkeypatch.setattr(sole.annotation, "annotated_table", broken)
    with pytest.raises(OSError, match="disk full"):
        annotate(AnnotateConfig(root=str(dataset[0]), out=str(out), model=tiny_checkpoint))
    assert not out.exists() and not list(out.parent.iterdir())
