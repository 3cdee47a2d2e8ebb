"""SOLE-R1-shaped reasoning records from episodes, and their export as an HF `datasets` folder for TRL.

A record is one query of the SOLE-R1 contract with its answer: the prompt text (goal and previous progress,
`sole.models.base.prompt_text`), one composite image (first | previous | current frame left to right; external
view on top, wrist view below), the completion (`sole.synth.cot.make_cot`) and the true progress.

Two modes, as in the published tooling: ``dense`` queries every frame with the previous frame as "previous";
``subsampled`` queries ~``n_query`` frames (`sole.models.base.query_frames`) and carries the previous queried
frame and its progress. The previous progress in the prompt is the true label there (teacher forcing), and 0 at
the first query, as the contract starts every episode at 0%.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sole.data.episode import Episode
from sole.envs.tasks import get_task
from sole.models.base import prompt_text, query_frames
from sole.synth.cot import make_cot

Mode = Literal["dense", "subsampled"]
VIEW_ROWS = ("external", "wrist")
"""Composite rows, top to bottom."""


def composite(first: dict[str, np.ndarray], previous: dict[str, np.ndarray], current: dict[str, np.ndarray],
              views: tuple[str, ...] = VIEW_ROWS) -> np.ndarray:
    """One uint8 image (len(views) * H, 3 * W, 3): a row per view of first | previous | current."""
    return np.concatenate([np.concatenate([first[v], previous[v], current[v]], axis=1) for v in views], axis=0)


def query_pairs(n_frames: int, mode: Mode, n_query: int = 10) -> list[tuple[int, int]]:
    """(previous, current) frame index of every query of an episode."""
    if mode == "dense":
        return [(t - 1, t) for t in range(1, n_frames)]
    if mode == "subsampled":
        idx = query_frames(n_frames, max(1, (n_frames - 1) // n_query))
        return list(zip([0, *idx[:-1]], idx, strict=True))
    raise ValueError(f"unknown record mode {mode!r}; valid modes: dense, subsampled")


def sft_records(ep: Episode, goal_task: str | None = None, *, mode: Mode = "dense", n_query: int = 10,
                rng: np.random.Generator | None = None) -> list[dict[str, Any]]:
    """The reasoning records of one episode for ``goal_task`` (default: the episode's own task).

    A goal of the same scene uses its counterfactual label, a goal of another scene a label of 0.
    """
    rng = rng if rng is not None else np.random.default_rng(ep.seed)
    goal_task = get_task(goal_task or ep.task).name
    goals = get_task(goal_task).goals
    label = ep.label(goal_task)
    records = []
    for k, (prev, cur) in enumerate(query_pairs(len(ep), mode, n_query)):
        goal = goals[int(rng.integers(len(goals)))]
        prev_progress = float(label[prev]) if k > 0 else 0.0
        frames = {t: {v: ep.frames[v][t] for v in VIEW_ROWS} for t in (0, prev, cur)}
        records.append({
            "prompt": prompt_text(goal, prev_progress),
            "image": composite(frames[0], frames[prev], frames[cur]),
            "completion": make_cot(goal_task, goal, ep.facts[prev], ep.facts[cur], prev_progress, float(label[cur]),
                                   rng),
            "progress": float(label[cur]),
            "task": ep.task, "goal_task": goal_task, "kind": ep.kind, "episode": ep.index, "t": cur, "prev_t": prev,
        })
    return records


# --- HF datasets export ----------------------------------------------------------------------------------------------
_HF_FEATURES = {
    "prompt": {"dtype": "string", "_type": "Value"}, "image": {"_type": "Image"},
    "completion": {"dtype": "string", "_type": "Value"}, "progress": {"dtype": "float32", "_type": "Value"},
    **{k: {"dtype": "string", "_type": "Value"} for k in ("task", "goal_task", "kind")},
    **{k: {"dtype": "int64", "_type": "Value"} for k in ("episode", "t", "prev_t")},
}


_ARROW = {"string": pa.string(), "float32": pa.float32(), "int64": pa.int64(),
          "image": pa.struct([("bytes", pa.binary()), ("path", pa.string())])}


def _png(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def export_hf(records: list[dict[str, Any]], out: str | Path, split: str = "train") -> Path:
    """Write ``records`` as ``<out>/data/<split>-00000-of-00001.parquet``, loadable with
    ``datasets.load_dataset("parquet", data_files=...)`` or ``load_dataset(out)``; the image column is a PNG
    `datasets.Image` feature (the schema carries the HF feature types)."""
    if not records:
        raise ValueError("no records to export")
    columns = {k: [{"bytes": _png(r[k]), "path": None} for r in records] if k == "image" else [r[k] for r in records]
               for k in _HF_FEATURES}
    meta = {b"huggingface": json.dumps({"info": {"features": _HF_FEATURES}}).encode()}
    table = pa.table(columns, schema=pa.schema([pa.field(k, _ARROW[v.get("dtype", "image")]) for k, v in
                                                _HF_FEATURES.items()], metadata=meta))
    path = Path(out) / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path
