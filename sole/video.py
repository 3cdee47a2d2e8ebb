"""Reading and writing mp4 files, through imageio-ffmpeg's ffmpeg in a subprocess.

Not through PyAV: PyAV's bundled libdrm breaks MuJoCo's EGL rendering in any process that imports it (every later
`mujoco.Renderer` fails), and most commands here both render and write video. ffmpeg's banner is hidden, and a
file it cannot read is one line of error (`ffmpeg_reason`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
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


@dataclass(frozen=True)
class DecodeLimits:
    """What decoding one video may cost; None leaves a bound off (`sole serve` sets all three)."""

    max_frames: int | None = None
    """Frames of the video."""
    max_pixels: int | None = None
    """Pixels of one frame at the source size (width x height)."""
    max_decoded_mb: float | None = None
    """RGB bytes the decoder produces at the source size, over all frames."""


UNLIMITED = DecodeLimits()


class TooLargeError(ValueError):
    """An input over one of the `DecodeLimits` (or `sole serve`'s image limit); the message names the limit."""


def read_mp4(path: str | Path, size: int | None = None, limits: DecodeLimits = UNLIMITED) -> np.ndarray:
    """All frames of a video as uint8 (T, H, W, 3); with ``size``, scaled by ffmpeg to (T, size, size, 3) as they
    are decoded (area averaging), so a long high-resolution video never sits in memory at full size. Decoding stops
    as soon as a limit is passed (`TooLargeError`); a file ffmpeg cannot read is a ValueError with its last line."""
    scale = ["-vf", f"scale={size}:{size}:flags=area"] if size else []
    if size:  # asked for: imageio-ffmpeg's warning that the output and source sizes differ says nothing new
        logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    cap = ["-frames:v", str(limits.max_frames + 1)] if limits.max_frames is not None else []
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24", input_params=["-hide_banner"],
                                        output_params=scale + cap or None)
    try:
        meta = next(reader)
        w, h = meta["size"]  # the output size
        check_limits(limits, 0, meta["source_size"])
        frames = []
        for buf in reader:
            frames.append(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
            check_limits(limits, len(frames), meta["source_size"])
    except (OSError, RuntimeError, StopIteration) as err:
        raise ValueError(ffmpeg_reason(err)) from None
    finally:
        reader.close()  # stops ffmpeg when decoding ended early
    return np.stack(frames) if frames else np.zeros((0, h, w, 3), np.uint8)


def check_limits(limits: DecodeLimits, n_frames: int, source_size: tuple[int, int]) -> None:
    """`TooLargeError` when ``n_frames`` frames of ``source_size`` (w, h) pass one of ``limits``."""
    sw, sh = source_size
    if limits.max_pixels is not None and sw * sh > limits.max_pixels:
        raise TooLargeError(f"frames of {sw}x{sh} px are over max_pixels={limits.max_pixels}")
    if limits.max_frames is not None and n_frames > limits.max_frames:
        raise TooLargeError(f"more than {limits.max_frames} frames (max_frames={limits.max_frames})")
    decoded = n_frames * sw * sh * 3 / 2**20
    if limits.max_decoded_mb is not None and decoded > limits.max_decoded_mb:
        raise TooLargeError(f"{n_frames} frames of {sw}x{sh} px decode to more than max_decoded_mb="
                       f"{limits.max_decoded_mb:g} MB")


def ffmpeg_reason(err: BaseException) -> str:
    """One line saying why ffmpeg failed: the last line it wrote (imageio-ffmpeg's message carries its whole
    output, build banner included)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip() and not line.startswith("===")]
    return f"ffmpeg: {lines[-1]}" if lines else f"ffmpeg failed ({type(err).__name__})"
