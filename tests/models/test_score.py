import json

import numpy as np
import pytest

from sole.models.score import ScoreConfig, main, to_uint8_frames
from sole.video import write_mp4


@pytest.fixture
def ckpt(tiny_checkpoint):
    return tiny_checkpoint


def write_video(path, n=6, size=48, seed=0):
    rng = np.random.default_rng(seed)
    write_mp4(path, rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), fps=10)
    return str(path)


def test_score_json_per_step(ckpt, tmp_path, capsys):
    a, b = write_video(tmp_path / "a.mp4"), write_video(tmp_path / "b.mp4", seed=1)
    out = main(ScoreConfig(goal="close the window", video=a, wrist=b, model=ckpt, json=True, stride=2))
    printed = json.loads(capsys.readouterr().out)
    assert printed["frames"] == 6 and len(printed["per_frame"]) == 6
    assert [s["t"] for s in out["steps"]] == [2, 4, 5]
    assert all(s["text"].startswith("<think>") or s["text"] for s in out["steps"])


def test_score_plot(ckpt, tmp_path):
    from sole.video import read_mp4

    a = write_video(tmp_path / "a.mp4")
    out = main(ScoreConfig(goal="close the window", video=a, model=ckpt, stride=2, plot=str(tmp_path / "plot.mp4")))
    plot = read_mp4(out["plot"])
    assert plot.shape[0] == 6 and plot.shape[2] == 256  # the one given view over the curve and the reasoning


def test_score_table_without_wrist_notes_black_view(ckpt, tmp_path):
    out = main(ScoreConfig(goal="close the window", video=write_video(tmp_path / "a.mp4"), model=ckpt, think=False))
    assert out["notes"] and "wrist" in out["notes"][0]


def test_scene_view_comes_from_video_or_scene(ckpt, tiny_scene_checkpoint, tmp_path):
    a, b = write_video(tmp_path / "a.mp4"), write_video(tmp_path / "b.mp4", seed=1)
    alone = main(ScoreConfig(goal="close the window", video=a, model=tiny_scene_checkpoint, think=False))
    named = main(ScoreConfig(goal="close the window", video=b, scene=a, model=tiny_scene_checkpoint, think=False))
    assert alone["per_frame"] == named["per_frame"] and not alone["notes"]
    both = f"mean:{ckpt}+{tiny_scene_checkpoint}"
    with pytest.raises(ValueError, match="--scene"):
        main(ScoreConfig(goal="close the window", video=a, model=both, think=False))
    out = main(ScoreConfig(goal="close the window", video=a, wrist=b, scene=b, model=both, think=False))
    assert len(out["per_frame"]) == 6 and not out["notes"]


def write_bytes(path, data):
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make,match", [
    (lambda p: str(p / "missing.mp4"), "no video file"),
    (lambda p: write_bytes(p / "empty.mp4", b""), "cannot read video|no frames"),
    (lambda p: write_bytes(p / "bad.mp4", b"not a video at all"), "cannot read video"),
    (lambda p: write_video(p / "one.mp4", n=1), "1 frame"),
])
def test_bad_videos(ckpt, tmp_path, make, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        main(ScoreConfig(goal="close the window", video=make(tmp_path), model=ckpt))


def test_mismatched_lengths(ckpt, tmp_path):
    a, b = write_video(tmp_path / "a.mp4", n=6), write_video(tmp_path / "b.mp4", n=4)
    with pytest.raises(ValueError, match="different lengths"):
        main(ScoreConfig(goal="close the window", video=a, wrist=b, model=ckpt))


def test_empty_goal(ckpt, tmp_path):
    with pytest.raises(ValueError, match="empty goal"):
        main(ScoreConfig(goal="  ", video=write_video(tmp_path / "a.mp4"), model=ckpt))


def test_nan_frames():
    with pytest.raises(ValueError, match="NaN"):
        to_uint8_frames(np.full((3, 8, 8, 3), np.nan, np.float32), 64, "x")
