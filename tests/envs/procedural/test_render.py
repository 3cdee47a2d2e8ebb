import numpy as np
from PIL import Image

from sole.envs.render import RenderConfig, main
from sole.video import read_mp4


def test_render_a_generated_task(tmp_path):
    video = main(RenderConfig(task="proc:1", size=32, agent_steps=4, out=str(tmp_path / "p.mp4")))
    assert read_mp4(video).shape[0] == 5


def test_procedural_contact_sheet(tmp_path):
    out = main(RenderConfig(procedural_sheet=2, size=32, agent_steps=3, out=str(tmp_path / "sheet.png")))
    sheet = np.asarray(Image.open(out))
    assert sheet.shape[0] == 2 * (32 + 4) and sheet.shape[1] == 2 * 2 * (2 * 32 + 4)
