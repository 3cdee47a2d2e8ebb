"""sole: a video-language reasoning model whose task progress is the only reward for online RL.

The commands' work as Python functions (the shape of roboreason's API)::

    import sole

    result = sole.generate("compact", "close the window", ["ext.mp4", "wrist.mp4"], ["external", "wrist"])
    sole.video_plot(result, ["ext.mp4", "wrist.mp4"], ["external", "wrist"], "window.mp4")
    sole.annotate("path/to/lerobot_dataset", "path/to/annotated_copy", model="compact")

``sole.generate`` also takes uint8 frame arrays, a batch of episodes, and roboreason's combined
``"external and wrist"`` video, and returns roboreason's ``rewards`` and ``reasoning_traces`` too (the mapping is in
the README).

A ``model`` is a reasoner spec (`sole.models.registry`: ``compact``, a checkpoint directory, an ensemble,
``api:URL``, ...) or an already loaded reasoner.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from sole.models.base import Reasoner
    from sole.models.score import Source

__version__ = "0.1.0"


COMBINED = "external and wrist"
"""roboreason's view type for one video holding the external (left) and wrist (right) views side by side."""
VIEW_TYPES = ("external", "wrist", "scene", COMBINED)


def _spec_and_reasoner(model: str | Reasoner) -> tuple[str, Reasoner | None]:
    return (model, None) if isinstance(model, str) else (type(model).__name__, model)


def _is_batch(videos: Sequence[Any]) -> bool:
    return len(videos) > 0 and isinstance(videos[0], (list, tuple))


def _views(videos: Sequence[Source], view_types: Sequence[str]) -> dict[str, Source]:
    """One episode's sources keyed by view, a combined side-by-side video split into its two halves."""
    if len(videos) != len(view_types):
        raise ValueError(f"{len(videos)} videos but {len(view_types)} view types; give one view per video")
    if unknown := sorted(set(view_types) - set(VIEW_TYPES)):
        raise ValueError(f"unknown view types {unknown}; use external, wrist, scene or {COMBINED!r}")
    named = [p for v in view_types for p in (("external", "wrist") if v == COMBINED else (v,))]
    if repeated := sorted({v for v in named if named.count(v) > 1}):
        raise ValueError(f"view types {repeated} are given more than once; each video is one camera's view. With "
                         "one camera, give it alone (e.g. [video], ['external']): the other views are read as black "
                         "frames, said in the notes")
    sources: dict[str, Source] = {}
    for video, view in zip(videos, view_types, strict=True):
        if view == COMBINED:
            sources.update(split_combined(video))
        else:
            sources[view] = video
    if "external" not in sources and "scene" not in sources:
        raise ValueError("give the external (or scene) view's video: progress is read from the whole scene")
    return sources


def split_combined(video: Source) -> dict[str, np.ndarray]:
    """The external (left half) and wrist (right half) frames of a side-by-side video (roboreason's
    "external and wrist" view)."""
    import numpy as np

    from sole.video import read_mp4

    frames = video if isinstance(video, np.ndarray) else read_mp4(video)
    if frames.ndim != 4 or frames.shape[2] % 2:
        raise ValueError(f"a combined '{COMBINED}' video must be (T, H, 2W, 3) with two views side by side, got "
                         f"shape {frames.shape}")
    half = frames.shape[2] // 2
    return {"external": frames[:, :, :half], "wrist": frames[:, :, half:]}


def generate(model: str | Reasoner, task_description: str, video_paths: Sequence[Any],
             view_types: Sequence[str] = ("external", "wrist"), *, think: bool = True, stride: int = 1,
             view_type_per_video: Sequence[str] | None = None) -> dict[str, Any] | list[dict[str, Any]]:
    """Progress and reasoning for one episode's videos: one video per view, each a file path or uint8 frames
    (T, H, W, 3), named by ``view_types`` (``external``, ``wrist``, ``scene``, or ``"external and wrist"`` for one
    video holding both side by side; each view at most once). A list of such lists is a batch of episodes, read
    together, and gives a list of results. A view the model reads and no video gives is black frames (noted).

    The result is what `sole score --json` prints (``progress``, ``per_frame``, ``steps`` with the reasoning,
    ``notes``, ``parse_failures``), plus roboreason's ``rewards`` (per-frame progress in percent) and
    ``reasoning_traces`` (per frame; empty between queried frames). ``view_type_per_video`` is roboreason's name
    for ``view_types``."""
    from sole.models.base import reason
    from sole.models.registry import load_reasoner
    from sole.models.score import ScoreConfig, check_request, clip_of, reading, view_sources

    view_types = view_types if view_type_per_video is None else view_type_per_video
    episodes = list(video_paths) if _is_batch(video_paths) else [video_paths]
    spec, reasoner = _spec_and_reasoner(model)
    cfg = ScoreConfig(goal=task_description, video="", model=spec, think=think, stride=stride)
    check_request(cfg)
    reasoner = reasoner or load_reasoner(spec)
    clips, notes = [], []
    for videos in episodes:
        given = _views(videos, view_types)
        sources = view_sources(given.get("external", given.get("scene")), given.get("wrist"), given.get("scene"),
                               tuple(reasoner.views))
        clip, note = clip_of(sources, tuple(reasoner.views), cfg.size)
        clips.append(clip)
        notes.append(note)
    judged = reason(reasoner, clips, [task_description] * len(clips), think=think, stride=stride)
    results = [reading(cfg, c, n, j) for c, n, j in zip(clips, notes, judged, strict=True)]
    return results if _is_batch(video_paths) else results[0]


def _as_reading(result: dict[str, Any]) -> dict[str, Any]:
    """A `generate` result, or roboreason's output (``rewards`` in percent, ``reasoning_traces`` per frame), as
    the reading `sole.viz.plot_reading` draws."""
    if "per_frame" in result:
        return result
    traces = result.get("reasoning_traces") or [""] * len(result["rewards"])
    return {"goal": result.get("model", ""), "per_frame": [r / 100 for r in result["rewards"]],
            "steps": [{"t": t, "text": text} for t, text in enumerate(traces) if text.strip()]}


def video_plot(result: dict[str, Any], video_paths: Sequence[Source], view_types: Sequence[str],
               out: str | Path, *, fps: int = 10) -> Path:
    """An mp4 of the views side by side over the progress curve of a `generate` result (or of roboreason's output
    dict ``{"model", "rewards", "reasoning_traces"}``), with the reasoning written at each queried frame shown
    until the next. Videos and view types are given as to `generate`."""
    from sole.models.score import frames_of
    from sole.viz import plot_reading

    frames = {v: frames_of(src, 64)[0] for v, src in _views(video_paths, view_types).items()}
    return plot_reading(_as_reading(result), frames, out, fps=fps)


def annotate(dataset: str | Path, out: str | Path, model: str | Reasoner = "compact", **options: Any) -> Path:
    """`sole annotate`: a copy of a LeRobot v3 dataset with the reasoner's progress (and reasoning) per frame;
    ``options`` are `sole.annotation.AnnotateConfig` fields (views, goal, episodes, think, stride, ...)."""
    from sole.annotation import AnnotateConfig
    from sole.annotation import annotate as run

    spec, reasoner = _spec_and_reasoner(model)
    return run(AnnotateConfig(root=str(dataset), out=str(out), model=spec, **options), reasoner)
