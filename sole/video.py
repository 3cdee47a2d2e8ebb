"""Reading and writing mp4 files, through imageio-ffmpeg's ffmpeg in a subprocess.

Not through PyAV: PyAV's bundled libdrm breaks MuJoCo's EGL rendering in any process that imports it (measured:
every later `mujoco.Renderer` fails), and most commands here both render and write video.
"""

from __future__ import annotations

import logging
from pathlib import Path

import imageio_ffmpeg
import numpy as np

CODEC = "libx264"


def write_mp4(path: str | Path, frames: np.ndarray, fps: int) -> Path:
    """H.264 mp4 of uint8 (T, H, W, 3) frames; single-threaded and bit-exact, so equal frames give equal bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio_ffmpeg.write_frames(
        str(path), (frames.shape[2], frames.shape[1]), fps=fps, codec=CODEC, quality=None, macro_block_size=1,
        output_params=["-crf", "18", "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
                       "-map_metadata", "-1", "-f", "mp4"])
    writer.send(None)
    for img in frames:
        writer.send(np.ascontiguousarray(img))
    writer.close()
    return path


def read_mp4(path: str | Path, size: int | None = None) -> np.ndarray:
    """All frames of a video as uint8 (T, H, W, 3); with ``size``, scaled by ffmpeg to (T, size, size, 3) as they
    are decoded (area averaging), so a long high-resolution video never sits in memory at full size."""
    scale = ["-vf", f"scale={size}:{size}:flags=area"] if size else None
    if size:  # asked for: imageio-ffmpeg's warning that the output and source sizes differ says nothing new
        logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", output_params=scale)
    meta = next(reader)
    w, h = meta["size"]  # the output size
    frames = [np.frombuffer(buf, np.uint8).reshape(h, w, 3) for buf in reader]
    return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)
