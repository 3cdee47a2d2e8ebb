"""sole: a video-language reasoning model whose task progress is the only reward for online RL.

The commands' work as Python functions (the shape of roboreason's API)::

    import sole

    result = sole.generate("compact", "close the window", ["ext.mp4", "wrist.mp4"], ["external", "wrist"])
    sole.video_plot(result, ["ext.mp4", "wrist.mp4"], ["external", "wrist"], "window.mp4")
    sole.annotate("path/to/lerobot_dataset", "path/to/annotated_copy", model="compact")

A ``model`` is a reasoner spec (`sole.models.registry`: ``compact``, a checkpoint directory, an ensemble,
``api:URL``, ...) or an already loaded reasoner.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sole.models.base import Reasoner

__version__ = "0.1.0"


def _spec_and_reasoner(model: str | Reasoner) -> tuple[str, Reasoner | None]:
    return (model, None) if isinstance(model, str) else (type(model).__name__, model)


def generate(model: str | Reasoner, task_description: str, video_paths: Sequence[str | Path],
             view_types: Sequence[str] = ("external", "wrist"), *, think: bool = True,
             stride: int = 1) -> dict[str, Any]:
    """Progress and reasoning for one episode's videos (one file per view, named by ``view_types``, each view at
    most once): what `sole score --json` prints (``progress``, ``per_frame``, ``steps`` with the reasoning,
    ``notes``, ``parse_failures``). A view the model reads and no video gives is read as black frames (noted)."""
    from sole.models.score import ScoreConfig, score

    if len(video_paths) != len(view_types):
        raise ValueError(f"{len(video_paths)} videos but {len(view_types)} view types; give one view per video")
    if unknown := sorted(set(view_types) - {"external", "wrist", "scene"}):
        raise ValueError(f"unknown view types {unknown}; use external, wrist or scene")
    if repeated := sorted({v for v in view_types if list(view_types).count(v) > 1}):
        raise ValueError(f"view types {repeated} are given more than once; each video is one camera's view. With "
                         "one camera, give it alone (e.g. [video], ['external']): the other views are read as black "
                         "frames, said in the notes")
    paths = {v: str(p) for v, p in zip(view_types, video_paths, strict=True)}
    if "external" not in paths and "scene" not in paths:
        raise ValueError("give the external (or scene) view's video: progress is read from the whole scene")
    spec, reasoner = _spec_and_reasoner(model)
    cfg = ScoreConfig(goal=task_description, video=paths.get("external", paths.get("scene", "")),
                      wrist=paths.get("wrist"), scene=paths.get("scene"), model=spec, think=think, stride=stride)
    return score(cfg, reasoner)


def video_plot(result: dict[str, Any], video_paths: Sequence[str | Path], view_types: Sequence[str],
               out: str | Path, *, fps: int = 10) -> Path:
    """An mp4 of the views side by side over the progress curve of a `generate` result, with the reasoning
    written at each queried frame shown until the next."""
    from sole.models.score import read_video
    from sole.viz import plot_reading

    frames = {v: read_video(p, 64) for v, p in zip(view_types, video_paths, strict=True)}
    return plot_reading(result, frames, out, fps=fps)


def annotate(dataset: str | Path, out: str | Path, model: str | Reasoner = "compact", **options: Any) -> Path:
    """`sole annotate`: a copy of a LeRobot v3 dataset with the reasoner's progress (and reasoning) per frame;
    ``options`` are `sole.annotation.AnnotateConfig` fields (views, goal, episodes, think, stride, ...)."""
    from sole.annotation import AnnotateConfig
    from sole.annotation import annotate as run

    spec, reasoner = _spec_and_reasoner(model)
    return run(AnnotateConfig(root=str(dataset), out=str(out), model=spec, **options), reasoner)
