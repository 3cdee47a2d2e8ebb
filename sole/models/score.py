"""`sole score`: read a robot video (one mp4 per view) and print per-step progress and reasoning.

Video frames are resized to the model's input size. Each view is one file: ``--video`` is the external view,
``--wrist`` the gripper view; a model that reads a view with no file given sees black frames there (said in
the output), which is what an occluded camera looks like to it. One camera's video given for two views is refused:
each view is its own camera, and a duplicated one reads as a scene the model never saw. Answers that did not
parse are counted (``parse_failures``) and noted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.models.base import Clip, Judgement, Reasoner, check_goal, reason
from sole.models.registry import load_reasoner
from sole.video import UNLIMITED, DecodeLimits, TooLargeError, read_mp4

console = Console()


@dataclass(frozen=True)
class ScoreConfig:
    goal: str
    """The task in words, e.g. "close the window"."""
    video: str
    """mp4 (or any video imageio reads) of the external view; for a model that reads the ``scene`` view and not the
    external one, the scene view (the external view with the robot masked out) unless --scene names it."""
    wrist: str | None = None
    """mp4 of the wrist (gripper) view, same length as --video."""
    scene: str | None = None
    """mp4 of the scene view, same length as --video; needed by a reasoner that reads both the external and the
    scene view (e.g. a ``mean:`` ensemble of the two kinds of model)."""
    model: str = "compact"
    """Reasoner spec (`sole.models.registry`): compact (the default model), compact:held-out-a or
    compact:held-out-b (the models that never saw fold a / fold b), a checkpoint directory, api:URL, hf:PATH.
    Experimental: checked:SPEC, contrast:SPEC, gated:SPEC and the min:/median:/mean: ensembles."""
    stride: int = 1
    """Query every k-th frame (progress is interpolated in between)."""
    think: bool = True
    """Write the reasoning (slower); --no-think gives progress only."""
    json: bool = False
    """Print JSON instead of a table."""
    size: int = 64
    """Frames are resized to this square size (the compact model's input)."""
    plot: str | None = None
    """Also write an mp4 here: the given views side by side over the progress curve, with the reasoning
    (`sole.video_plot`)."""


def read_video(path: str | Path, size: int, limits: DecodeLimits = UNLIMITED) -> np.ndarray:
    """All frames of a video as uint8 (T, size, size, 3), scaled as they are decoded, with a clear error for missing
    or unreadable files and for one over ``limits``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no video file at {path}")
    try:
        frames = read_mp4(path, size, limits)
    except TooLargeError as err:
        raise TooLargeError(f"video {path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - any decoder failure is a bad file to the user
        raise ValueError(f"cannot read video {path}: {err}") from None
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None].repeat(3, axis=-1)
    if frames.ndim != 4 or frames.shape[0] == 0:
        raise ValueError(f"video {path} holds no frames")
    if frames.shape[0] < 2:
        raise ValueError(f"video {path} has 1 frame; progress needs at least 2")
    return to_uint8_frames(frames[..., :3], size, str(path))


def to_uint8_frames(frames: np.ndarray, size: int, name: str) -> np.ndarray:
    """Validate and resize (T, H, W, 3) frames to uint8 (T, size, size, 3)."""
    if np.issubdtype(frames.dtype, np.floating) and not np.isfinite(frames).all():
        raise ValueError(f"{name}: frames contain NaN or infinite values")
    if frames.dtype != np.uint8:
        frames = np.clip(frames, 0, 255).astype(np.uint8)
    if frames.shape[1:3] == (size, size):
        return frames
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in frames])


def load_clip(cfg: ScoreConfig, views: tuple[str, ...],
              limits: DecodeLimits = UNLIMITED) -> tuple[Clip, list[str]]:
    """The clip for ``views`` and notes about views filled with black frames."""
    if {"external", "scene"} <= set(views) and cfg.scene is None:
        raise ValueError("this reasoner reads both the external and the scene view; give the scene video with "
                         "--scene (--video is the external view)")
    files = {"external": cfg.video, "wrist": cfg.wrist, "scene": cfg.scene or cfg.video}
    read = {v: read_video(p, cfg.size, limits) for v, p in files.items() if p is not None and v in views}
    lengths = {v: len(f) for v, f in read.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the views have different lengths: {lengths}; give videos of the same episode")
    distinct_views(read)
    n = next(iter(lengths.values()))
    notes = [f"no {v} video given: the model sees black frames there" for v in views if v not in read]
    frames = {v: read.get(v, np.zeros((n, cfg.size, cfg.size, 3), np.uint8)) for v in views}
    return Clip(frames), notes


def distinct_views(frames: dict[str, np.ndarray]) -> None:
    """A clear error when two views hold the same frames: one camera given twice."""
    names = list(frames)
    for i, a in enumerate(names):
        if same := [b for b in names[i + 1:] if np.array_equal(frames[a], frames[b])]:
            raise ValueError(f"the {a} and {same[0]} views are the same video; each view is its own camera. With "
                             f"one camera, give it alone: the other view is read as black frames (said in the notes)")


def check_request(cfg: ScoreConfig) -> None:
    """The goal and stride checks every reading of videos starts with."""
    check_goal(cfg.goal)
    if not isinstance(cfg.stride, int) or cfg.stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {cfg.stride!r}")


def score(cfg: ScoreConfig, reasoner: Reasoner | None = None) -> dict[str, Any]:
    """Progress and reasoning for the config's videos, read by ``reasoner`` (default: ``cfg.model`` loaded)."""
    check_request(cfg)
    reasoner = reasoner or load_reasoner(cfg.model)
    clip, notes = load_clip(cfg, reasoner.views)
    return reading(cfg, clip, notes, reason(reasoner, [clip], [cfg.goal], think=cfg.think, stride=cfg.stride)[0])


def reading(cfg: ScoreConfig, clip: Clip, notes: list[str], judged: Judgement) -> dict[str, Any]:
    """What `sole score --json` prints for a judged clip."""
    if judged.parse_failures:
        notes = [*notes, f"{judged.parse_failures} of {len(judged.steps)} answers did not parse (no "
                         "<answer>N%</answer>); progress kept the previous value there: check that the model writes "
                         "the SOLE-R1 answer format"]
    return {"goal": cfg.goal, "model": cfg.model, "frames": len(clip), "progress": judged.progress,
            "per_frame": [round(float(p), 4) for p in judged.per_frame], "notes": notes,
            "parse_failures": judged.parse_failures,
            "steps": [{"t": t, "progress": s.progress, "text": s.text, "parsed": s.parsed} for t, s in judged.steps]}


def main(cfg: ScoreConfig) -> dict[str, Any]:
    result = score(cfg)
    if cfg.plot:
        from sole.viz import plot_reading

        given = {v: p for v, p in (("external", cfg.video), ("wrist", cfg.wrist), ("scene", cfg.scene)) if p}
        result["plot"] = str(plot_reading(result, {v: read_video(p, cfg.size) for v, p in given.items()}, cfg.plot))
    if cfg.json:
        print(json.dumps(result))
        return result
    table = Table(title=f"{cfg.goal!r} on {Path(cfg.video).name} ({cfg.model})")
    table.add_column("t", justify="right")
    table.add_column("progress", justify="right")
    table.add_column("reasoning")
    for s in result["steps"]:
        table.add_row(str(s["t"]), f"{100 * s['progress']:.0f}%", s["text"])
    console.print(table)
    for note in result["notes"]:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(f"final progress {100 * result['progress']:.0f}% over {result['frames']} frames "
                  f"(config: {json.dumps(asdict(cfg))})")
    if cfg.plot:
        console.print(f"video with the progress curve and reasoning: {result['plot']}")
    return result
