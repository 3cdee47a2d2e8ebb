"""`sole score`: read a robot video (one mp4 per view) and print per-step progress and reasoning.

Video frames are resized to the model's input size. Each view is one file: ``--video`` is the external view,
``--wrist`` the gripper view; a model that reads a view with no file given sees black frames there (said in
the output), which is what an occluded camera looks like to it. One camera's video given for two views is refused:
each view is its own camera, and a duplicated one reads as a scene the model never saw. A video far from square
(views side by side) is refused; any other non-square one (a 4:3 camera, or `sole render`'s composite with its
curve, which reads as ~0) is squeezed to square with a note saying so. Answers that did not parse are counted
(``parse_failures``) and noted. The reading also holds roboreason's shape: ``rewards`` (per-frame progress in
percent) and ``reasoning_traces`` (per frame, the reasoning written there, empty between queried frames).
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
from sole.video import UNLIMITED, DecodeLimits, TooLargeError, ffmpeg_reason, read_mp4

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


Source = str | Path | np.ndarray
"""One view's video: a file path, or uint8 frames (T, H, W, 3)."""
COMPOSITE = 1.5
"""A video this many times wider than high (or higher than wide) holds several views side by side (a combined
"external and wrist" video): scored as one view, it reads ~0, so it is refused."""


def source_shape(path: str | Path) -> tuple[int, int]:
    """(height, width) of a video file's frames, from its header (nothing is decoded)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), input_params=["-hide_banner"])
    try:
        w, h = next(reader)["source_size"]
    except (OSError, RuntimeError, StopIteration) as err:
        raise ValueError(f"cannot read video {path}: {ffmpeg_reason(err)}") from None
    finally:
        reader.close()
    return h, w


def shape_note(name: str, height: int, width: int, size: int) -> str | None:
    """A note for a non-square view (it is squeezed to ``size`` square); a clear error for a composite."""
    if max(height, width) >= COMPOSITE * min(height, width):
        raise ValueError(f"{name} is {width}x{height} px: that is several views side by side, not one camera, and "
                         "would read as ~0. Give one raw video per view (`sole render --per-view` writes them), or "
                         "split a side-by-side pair with sole.generate(..., ['external and wrist'])")
    if height != width:
        return (f"{name} is {width}x{height} px, not square: it is squeezed to {size}x{size}. If it is a composite "
                "(`sole render`'s video with its curve drawn in), the reading means nothing: give one raw video per "
                "view (`sole render --per-view`)")
    return None


def frames_of(source: Source, size: int, limits: DecodeLimits = UNLIMITED) -> tuple[np.ndarray, list[str]]:
    """One view's frames as uint8 (T, size, size, 3), and a note when its frames were not square."""
    if isinstance(source, np.ndarray):
        if source.ndim != 4 or source.shape[-1] != 3:
            raise ValueError(f"frames must be (T, H, W, 3), got shape {source.shape}")
        note = shape_note("the frames", *source.shape[1:3], size)
        if len(source) < 2:
            raise ValueError("the frames hold fewer than 2 frames; progress needs at least 2")
        return to_uint8_frames(source, size, "frames"), [note] if note else []
    note = shape_note(f"video {source}", *source_shape(source), size) if Path(source).is_file() else None
    return read_video(source, size, limits), [note] if note else []


def view_sources(video: Source | None, wrist: Source | None, scene: Source | None,
                 views: tuple[str, ...]) -> dict[str, Source]:
    """The source of each view ``views`` names that has one; the scene view falls back to ``video`` for a reasoner
    that reads the scene view and not the external one."""
    if {"external", "scene"} <= set(views) and scene is None:
        raise ValueError("this reasoner reads both the external and the scene view; give the scene video with "
                         "--scene (--video is the external view)")
    given = {"external": video, "wrist": wrist, "scene": video if scene is None else scene}
    return {v: src for v, src in given.items() if src is not None and v in views}


def clip_of(sources: dict[str, Source], views: tuple[str, ...], size: int,
            limits: DecodeLimits = UNLIMITED) -> tuple[Clip, list[str]]:
    """The clip for ``views`` from their sources, and notes about squeezed views and views filled with black."""
    read, notes = {}, []
    for v, src in sources.items():
        read[v], note = frames_of(src, size, limits)
        notes += note
    lengths = {v: len(f) for v, f in read.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"the views have different lengths: {lengths}; give videos of the same episode")
    distinct_views(read)
    n = next(iter(lengths.values()))
    notes += [f"no {v} video given: the model sees black frames there" for v in views if v not in read]
    frames = {v: read.get(v, np.zeros((n, size, size, 3), np.uint8)) for v in views}
    return Clip(frames), notes


def load_clip(cfg: ScoreConfig, views: tuple[str, ...],
              limits: DecodeLimits = UNLIMITED) -> tuple[Clip, list[str]]:
    """The clip for ``views`` from the config's files, and notes about squeezed and black views."""
    return clip_of(view_sources(cfg.video, cfg.wrist, cfg.scene, views), views, cfg.size, limits)


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
    written = {t: s.text for t, s in judged.steps}
    return {"goal": cfg.goal, "model": cfg.model, "frames": len(clip), "progress": judged.progress,
            "per_frame": [round(float(p), 4) for p in judged.per_frame], "notes": notes,
            "parse_failures": judged.parse_failures,
            "steps": [{"t": t, "progress": s.progress, "text": s.text, "parsed": s.parsed} for t, s in judged.steps],
            # roboreason's shape: per-frame progress in percent, and the reasoning at each queried frame
            "rewards": [round(100 * float(p), 2) for p in judged.per_frame],
            "reasoning_traces": [written.get(t, "") for t in range(len(clip))]}


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
