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
