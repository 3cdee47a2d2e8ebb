import numpy as np

from sole.video import read_mp4
from sole.viz import annotated_frames, contact_sheet, write_video


def test_annotated_video_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    frames = {v: rng.integers(0, 255, (5, 16, 16, 3), dtype=np.uint8) for v in ("external", "wrist")}
    out = annotated_frames(frames, {"pred": np.linspace(0, 1, 5)}, texts=[f"t={t}" for t in range(5)])
    assert out.shape[0] == 5 and out.shape[2] == 512 and out.dtype == np.uint8
    # the cursor moves: consecutive frames differ in the curve panel
    assert not np.array_equal(out[0, 256:400], out[4, 256:400])
    path = write_video(tmp_path / "a.mp4", out)
    assert read_mp4(path).shape[0] == 5
    assert contact_sheet(out, n=3).shape[1] == 3 * out.shape[2]
