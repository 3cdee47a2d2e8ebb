"""The package-level Python API: `sole.generate`, `sole.video_plot`, `sole.annotate`."""

import json

import numpy as np
import pytest

import sole
from sole.models.registry import load_reasoner
from sole.video import read_mp4, write_mp4


@pytest.fixture
def videos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for view in ("external", "wrist"):
        frames = np.zeros((12, 64, 64, 3), np.uint8)
        for t in range(12):  # a square crossing the view
            frames[t, 20:32, 4 * t: 4 * t + 12] = (255, 0, 0) if view == "external" else (0, 255, 0)
        frames += rng.integers(0, 8, frames.shape, dtype=np.uint8)
        paths.append(write_mp4(tmp_path / f"{view}.mp4", frames, fps=10))
    return [str(p) for p in paths]


def test_generate_reads_like_sole_score_and_plots(videos, tiny_checkpoint, tmp_path):
    from sole.models.score import ScoreConfig, score

    result = sole.generate(tiny_checkpoint, "close the window", videos, ["external", "wrist"], stride=3)
    want = score(ScoreConfig(goal="close the window", video=videos[0], wrist=videos[1], model=tiny_checkpoint,
                             stride=3))
    assert result == want and [s["t"] for s in result["steps"]] == [3, 6, 9, 11]
    # a loaded reasoner works too, and one view alone is read with the other black (said in the notes)
    alone = sole.generate(load_reasoner(tiny_checkpoint), "close the window", videos[:1], ["external"], think=False)
    assert alone["notes"] == ["no wrist video given: the model sees black frames there"]
    out = sole.video_plot(result, videos, ["external", "wrist"], tmp_path / "plot.mp4")
    plot = read_mp4(out)
    assert plot.shape[0] == 12 and plot.shape[2] == 512  # two 256-px views side by side


def test_generate_rejects_mismatched_inputs(videos, tiny_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="2 videos but 1 view types"):
        sole.generate(tiny_checkpoint, "close the window", videos, ["external"])
    with pytest.raises(ValueError, match="unknown view types \\['top'\\]"):
        sole.generate(tiny_checkpoint, "close the window", videos, ["external", "top"])
    with pytest.raises(ValueError, match="give the external"):
        sole.generate(tiny_checkpoint, "close the window", videos[1:], ["wrist"])
    result = sole.generate(tiny_checkpoint, "close the window", videos, ["external", "wrist"], think=False)
    write_mp4(tmp_path / "short.mp4", np.zeros((5, 64, 64, 3), np.uint8), fps=10)
    with pytest.raises(ValueError, match="has 12 frames but the videos hold"):
        sole.video_plot(result, [tmp_path / "short.mp4"], ["external"], tmp_path / "plot.mp4")


def test_annotate(dataset, tiny_checkpoint, tmp_path_factory):
    root, _ = dataset
    out = sole.annotate(root, tmp_path_factory.mktemp("a") / "copy", model=load_reasoner(tiny_checkpoint),
                        episodes=(0,))
    summary = json.loads((out / "meta" / "sole.json").read_text())
    assert [e["episode_index"] for e in summary["episodes"]] == [0]
    assert callable(sole.annotate)  # the function is not shadowed by the module that does the work


def test_generate_refuses_a_view_given_twice_and_reads_one_camera_alone(videos, tiny_checkpoint):
    with pytest.raises(ValueError, match=r"view types \['external'\] are given more than once.*give it alone"):
        sole.generate(tiny_checkpoint, "close the window", videos, ["external", "external"])
    with pytest.raises(ValueError, match="external and wrist views are the same video"):
        sole.generate(tiny_checkpoint, "close the window", [videos[0], videos[0]], ["external", "wrist"])
    alone = sole.generate(tiny_checkpoint, "close the window", videos[:1], ["external"], think=False)
    assert alone["notes"] == ["no wrist video given: the model sees black frames there"]


@pytest.mark.parametrize("goal", [None, 3])
def test_generate_refuses_a_goal_that_is_not_text(videos, tiny_checkpoint, goal):
    with pytest.raises(ValueError, match="goal must be text"):
        sole.generate(tiny_checkpoint, goal, videos, ["external", "wrist"])


def test_roboreason_call_shape_and_video_plot_on_a_rendered_episode(tmp_path, tiny_checkpoint):
    from sole.envs.render import RenderConfig
    from sole.envs.render import main as render

    video = render(RenderConfig(task="drawer-close", agent_steps=6, per_view=True, out=str(tmp_path / "ep.mp4")))
    views = [str(video.with_suffix(f".{v}.mp4")) for v in ("external", "wrist")]
    result = sole.generate(tiny_checkpoint, "close the drawer", views, view_type_per_video=["external", "wrist"],
                           stride=3)
    rewards, reasoning_traces = result["rewards"], result["reasoning_traces"]
    assert len(rewards) == len(reasoning_traces) == 7
    assert rewards == pytest.approx([100 * p for p in result["per_frame"]], abs=0.01)
    assert [t for t, text in enumerate(reasoning_traces) if text] == [s["t"] for s in result["steps"] if s["text"]]
    output = {"model": "sole", "rewards": rewards, "reasoning_traces": reasoning_traces}  # roboreason's output dict
    plot = read_mp4(sole.video_plot(output, views, ["external", "wrist"], tmp_path / "plot.mp4"))
    assert plot.shape[0] == 7 and plot.shape[2] == 512


def test_frame_arrays_batches_and_a_combined_side_by_side_video(videos, tiny_checkpoint):
    ext, wrist = (read_mp4(p) for p in videos)
    one = sole.generate(tiny_checkpoint, "close the window", [ext, wrist], ["external", "wrist"], think=False)
    combined = sole.generate(tiny_checkpoint, "close the window", [np.concatenate([ext, wrist], axis=2)],
                             ["external and wrist"], think=False)
    assert combined["per_frame"] == one["per_frame"]
    batch = sole.generate(tiny_checkpoint, "close the window", [[ext, wrist], [ext[::-1], wrist[::-1]]],
                          ["external", "wrist"], think=False)
    assert isinstance(batch, list) and batch[0]["per_frame"] == one["per_frame"]
    assert batch[1]["per_frame"] != one["per_frame"]
    from_files = sole.generate(tiny_checkpoint, "close the window", [videos], ["external", "wrist"], think=False)
    assert from_files[0]["per_frame"] == one["per_frame"]


def test_duplicate_views_are_refused_for_arrays_batches_and_combined_videos(videos, tiny_checkpoint):
    ext = read_mp4(videos[0])
    with pytest.raises(ValueError, match="external and wrist views are the same video"):
        sole.generate(tiny_checkpoint, "close the window", [ext, ext.copy()], ["external", "wrist"])
    with pytest.raises(ValueError, match="external and wrist views are the same video"):
        sole.generate(tiny_checkpoint, "close the window", [[ext, read_mp4(videos[1])], [ext, ext]],
                      ["external", "wrist"])
    with pytest.raises(ValueError, match="external and wrist views are the same video"):
        sole.generate(tiny_checkpoint, "close the window", [np.concatenate([ext, ext], axis=2)],
                      ["external and wrist"])
    with pytest.raises(ValueError, match=r"view types \['wrist'\] are given more than once"):
        sole.generate(tiny_checkpoint, "close the window", [np.concatenate([ext, ext], axis=2), ext],
                      ["external and wrist", "wrist"])
    with pytest.raises(ValueError, match="two views side by side"):
        sole.generate(tiny_checkpoint, "close the window", [ext[:, :, :63]], ["external and wrist"])
