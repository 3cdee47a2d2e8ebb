"""Annotated videos: camera views on top, the progress curve with a moving cursor, and the reasoning text.

Shared by every command that shows an episode to a person (`sole render`, `sole score`, `sole rl`, the report).
The curve is drawn once with matplotlib; each frame only moves a cursor, so a 100-frame video takes well under a
second to compose.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from sole.video import write_mp4  # noqa: E402

PANEL = 256
"""Displayed size of each camera view in pixels."""


def _upscale(frame: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((size, size), Image.NEAREST))


def curve_image(curves: dict[str, np.ndarray], width: int, height: int = 170,
                title: str = "") -> tuple[np.ndarray, tuple[float, float]]:
    """The progress curves as an RGB image, and the pixel x-range of the plot area (for the cursor)."""
    fig, ax = plt.subplots(figsize=(width / 100, height / 100), dpi=100)
    for name, ys in curves.items():
        ax.plot(np.arange(len(ys)), ys, label=name, lw=1.6)
    n = max(len(v) for v in curves.values())
    ax.set_xlim(0, max(n - 1, 1))
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("step", fontsize=7)
    ax.set_ylabel("progress", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title, fontsize=8)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout(pad=0.3)
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    x0, x1 = ax.get_position().x0 * img.shape[1], ax.get_position().x1 * img.shape[1]
    plt.close(fig)
    return img, (x0, x1)


def text_image(text: str, width: int, height: int = 84) -> np.ndarray:
    img = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    lines = textwrap.wrap(text, width=max(20, width // 6))[: height // 12]
    draw.multiline_text((4, 2), "\n".join(lines), fill=(20, 20, 20), font=font, spacing=2)
    return np.asarray(img)


def annotated_frames(frames: dict[str, np.ndarray], curves: dict[str, np.ndarray], texts: list[str] | None = None,
                     title: str = "") -> np.ndarray:
    """Compose (T, H, W, 3) frames: views side by side, the curves with a cursor at t, the reasoning at t."""
    views = list(frames)
    n = len(frames[views[0]])
    width = PANEL * len(views)
    curve, (x0, x1) = curve_image(curves, width, title=title)
    out = []
    for t in range(n):
        top = np.concatenate([_upscale(frames[v][t], PANEL) for v in views], axis=1)
        cur = curve.copy()
        x = int(round(x0 + (x1 - x0) * t / max(n - 1, 1)))
        cur[:, max(x - 1, 0): x + 1] = (200, 30, 30)
        rows = [top, cur]
        if texts is not None:
            rows.append(text_image(texts[t], width))
        out.append(np.concatenate(rows, axis=0))
    return np.stack(out)


def plot_reading(reading: dict, frames: dict[str, np.ndarray], out: str | Path, fps: int = 10) -> Path:
    """An mp4 of a `sole score` reading (``goal``, ``per_frame``, ``steps``): the views over its progress curve,
    with the reasoning written at each queried frame shown until the next."""
    n = len(reading["per_frame"])
    if mismatched := {v: len(f) for v, f in frames.items() if len(f) != n}:
        raise ValueError(f"the reading has {n} frames but the videos hold {mismatched}: give the videos it read")
    written = {s["t"]: s["text"] for s in reading["steps"]}
    texts, text = [], ""
    for t in range(n):
        text = written.get(t, text)
        texts.append(text)
    video = annotated_frames(frames, {"progress": np.asarray(reading["per_frame"])}, texts,
                             title=repr(reading["goal"]))
    return write_video(out, video, fps=fps)


def write_video(path: str | Path, frames: np.ndarray, fps: int = 10) -> Path:
    """Write uint8 (T, H, W, 3) frames as H.264 mp4 (even sizes are padded for the codec)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=255)
    return write_mp4(path, frames, fps)


def contact_sheet(frames: np.ndarray, n: int = 6) -> np.ndarray:
    """``n`` evenly spaced frames of a (T, H, W, 3) video side by side."""
    idx = np.linspace(0, len(frames) - 1, n).round().astype(int)
    return np.concatenate([frames[i] for i in idx], axis=1)
