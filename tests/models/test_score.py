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
    c = write_video(tmp_path / "c.mp4", seed=2)
    out = main(ScoreConfig(goal="close the window", video=a, wrist=b, scene=c, model=both, think=False))
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


def test_one_camera_given_for_two_views_is_refused(ckpt, tmp_path):
    a = write_video(tmp_path / "a.mp4")
    copy = write_bytes(tmp_path / "copy.mp4", (tmp_path / "a.mp4").read_bytes())
    for wrist in (a, copy):
        with pytest.raises(ValueError, match="external and wrist views are the same video.*give it alone"):
            main(ScoreConfig(goal="close the window", video=a, wrist=wrist, model=ckpt, think=False))


@pytest.mark.parametrize("goal", [None, 5])
def test_a_goal_that_is_not_text_is_a_clear_error(ckpt, tmp_path, goal):
    with pytest.raises(ValueError, match="goal must be text"):
        main(ScoreConfig(goal=goal, video=write_video(tmp_path / "a.mp4"), model=ckpt))


class Unparsed:
    """A reasoner whose every other answer has no <answer> tag."""

    views = ("external",)

    def judge(self, queries, *, think=True):
        from sole.models.base import answer_step

        return [answer_step("<answer>40%</answer>" if q.current["external"].mean() > 1e9 or i % 2 else "hm",
                            q.prev_progress) for i, q in enumerate(queries)]


def test_unparsed_answers_are_counted_and_noted(tmp_path, capsys, caplog):
    from sole.models.score import score

    out = score(ScoreConfig(goal="close the window", video=write_video(tmp_path / "a.mp4"), json=True), Unparsed())
    assert out["parse_failures"] == 5 and [s["parsed"] for s in out["steps"]] == [False] * 5
    assert out["progress"] == 0.0 and "5 of 5 answers did not parse" in out["notes"][-1]
    assert "did not parse" in caplog.text and caplog.text.count("did not parse") == 1  # one warning per clip


def test_an_unreadable_video_is_one_line_without_the_ffmpeg_banner(tmp_path, capsys):
    from sole.cli import main as cli

    bad = write_bytes(tmp_path / "bad.mp4", b"not a video at all")
    with pytest.raises(SystemExit):
        cli(["score", "--goal", "close the window", "--video", bad, "--json"])
    out = capsys.readouterr()
    assert "ffmpeg version" not in out.out + out.err and "configuration:" not in out.out + out.err
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and "Invalid data found" in out.err


def test_a_non_square_video_is_squeezed_and_noted(tmp_path, tiny_checkpoint):
    from sole.video import write_mp4

    frames = np.random.default_rng(0).integers(0, 255, (4, 48, 64, 3), dtype=np.uint8)
    path = write_mp4(tmp_path / "wide.mp4", frames, fps=10)
    result = main(ScoreConfig(goal="close the window", video=str(path), model=tiny_checkpoint, json=True))
    assert result["notes"][0].startswith(f"video {path} is 64x48 px, not square: it is squeezed to 64x64")
    assert len(result["rewards"]) == len(result["reasoning_traces"]) == 4
    pair = write_mp4(tmp_path / "pair.mp4", np.concatenate([frames, frames[:, :, ::-1]], axis=2), fps=10)
    with pytest.raises(ValueError, match="128x48 px: that is several views side by side.*external and wrist"):
        main(ScoreConfig(goal="close the window", video=str(pair), model=tiny_checkpoint))
