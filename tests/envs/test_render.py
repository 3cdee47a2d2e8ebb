import numpy as np
import pytest
from PIL import Image

from sole.envs.render import RenderConfig, main
from sole.video import read_mp4


def test_render_writes_video_and_contact_sheet(tmp_path):
    video = main(RenderConfig(task="reach", size=32, agent_steps=6, out=str(tmp_path / "reach.mp4")))
    frames = read_mp4(video)
    assert frames.shape[0] == 7 and frames.shape[2] >= 2 * 32
    sheet = np.asarray(Image.open(video.with_suffix(".png")))
    assert sheet.shape[0] == 2 * 2 * 32  # external over wrist, upscaled 2x


def test_camera_comparison_sheet(tmp_path):
    out = main(RenderConfig(compare_cameras="workspace,corner3", compare_tasks="push", size=32, agent_steps=2,
                            out=str(tmp_path / "cams.mp4")))
    assert out.suffix == ".png" and np.asarray(Image.open(out)).shape[:2] == (3 * 32 * 2, 2 * 32 * 2)


def test_render_rejects_bad_camera(tmp_path):
    with pytest.raises(ValueError, match="valid cameras"):
        main(RenderConfig(external="front", out=str(tmp_path / "x.mp4")))


def test_per_view_videos_are_what_sole_score_reads_and_the_composite_is_refused(tmp_path, tiny_checkpoint):
    from sole.envs.render import expert_video
    from sole.envs.sim import EnvConfig
    from sole.models.score import ScoreConfig, score

    video = main(RenderConfig(task="reach", size=32, agent_steps=4, per_view=True, out=str(tmp_path / "r.mp4")))
    external, wrist = video.with_suffix(".external.mp4"), video.with_suffix(".wrist.mp4")
    frames, _, _ = expert_video(EnvConfig(task="reach", size=32), 4, 2)
    assert np.abs(read_mp4(external).astype(int) - frames["external"]).mean() < 8  # raw frames, lossy mp4 only
    assert read_mp4(wrist).shape == frames["wrist"].shape == (5, 32, 32, 3)
    result = score(ScoreConfig(goal="reach the goal", video=str(external), wrist=str(wrist), model=tiny_checkpoint,
                               size=32))
    assert result["frames"] == 5 and not [n for n in result["notes"] if "square" in n or "black" in n]
    composite = score(ScoreConfig(goal="reach the goal", video=str(video), model=tiny_checkpoint))
    assert "not square" in composite["notes"][0] and "sole render --per-view" in composite["notes"][0]
