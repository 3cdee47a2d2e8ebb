"""`sole train export`: a dataset's episodes as SOLE-R1 reasoning records and foundation QA, written as HF
`datasets` folders for training a vision-language model with TRL.

A record is one query of the SOLE-R1 contract with its answer: the prompt text (goal and previous progress,
`sole.models.base.prompt_text`), one composite image (`sole.models.base.composite`: first | previous | current
frame left to right, a row per view), the completion (`sole.data.cot.make_cot`) and the true progress.

Two modes, as in the published tooling: ``dense`` queries every frame with the previous frame as "previous";
``subsampled`` queries ~``n_query`` frames (`sole.models.base.query_frames`) and carries the previous queried
frame and its progress. The previous progress in the prompt is the true label there (teacher forcing), and 0 at
the first query, as the contract starts every episode at 0%.

The foundation QA (`sole.synth.foundation`) are temporal questions on every episode and spatial ones on a fresh
rollout per task. Both sets go to ``<out>/progress`` and ``<out>/qa``, one parquet file per split.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from sole.data.cot import make_cot
from sole.data.store import iter_episodes, require_complete
from sole.envs.tasks import TASKS, get_task
from sole.models.base import SYSTEM_PROMPT, VIEW_ROWS, composite, png_bytes, prompt_text, query_frames, query_messages
from sole.synth.episode import Episode
from sole.synth.foundation import spatial_records, temporal_records

console = Console()

Mode = Literal["dense", "subsampled"]


@dataclass(frozen=True)
class ExportConfig:
    """Export a dataset's SOLE-R1 progress records and foundation QA as HF datasets folders for TRL."""

    root: str = "data/synth"
    """A `sole synth` output folder (its ``train`` and ``eval`` splits are exported)."""
    out: str = ""
    """Output folder (default: <root>/hf); progress records go to <out>/progress, QA to <out>/qa."""
    splits: tuple[str, ...] = ("train", "eval")
    """Splits to export; a split the dataset does not hold is an error."""
    size: int = 64
    """Render size of the fresh rollouts the spatial QA are asked on (the dataset's own size)."""


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
            "facts_prev": json.dumps(ep.facts[prev]), "facts_cur": json.dumps(ep.facts[cur]),  # as make_cot read them
            "task": ep.task, "goal_task": goal_task, "kind": ep.kind, "episode": ep.index, "t": cur, "prev_t": prev,
        })
    return records


def other_goal(task: str, rng: np.random.Generator) -> str:
    """A second goal to label an episode with: the opposite goal of the scene, else a goal of another scene."""
    spec = get_task(task)
    if spec.opposite:
        return spec.opposite
    others = [n for n, s in TASKS.items() if s.scene != spec.scene]
    return others[int(rng.integers(len(others)))]


def progress_records(root: str | Path, mode: Mode = "subsampled") -> Iterator[dict[str, Any]]:
    """Records of every episode of a dataset, for its own goal and for `other_goal` (seeded per episode)."""
    for ep in iter_episodes(root):
        rng = np.random.default_rng(ep.seed)
        yield from sft_records(ep, mode=mode, rng=rng)
        yield from sft_records(ep, other_goal(ep.task, rng), mode=mode, rng=rng)


def qa_records(root: str | Path, size: int = 64) -> Iterator[dict[str, Any]]:
    """Temporal QA on every episode of a dataset, then spatial QA on one fresh rollout per task in it."""
    from sole.envs.sim import make_env

    tasks: dict[str, int] = {}
    for ep in iter_episodes(root):
        tasks.setdefault(ep.task, ep.seed)
        yield from temporal_records(ep, np.random.default_rng(ep.seed))
    for task, seed in tasks.items():
        env = make_env(task, size=size)
        try:
            yield from spatial_records(env, seed)
        finally:
            env.close()


# --- HF datasets export ----------------------------------------------------------------------------------------------
_IMAGE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
_PARTS = pa.list_(pa.struct([("type", pa.string()), ("text", pa.string())]))
_HF_TYPES: dict[type, tuple[dict[str, Any] | None, pa.DataType]] = {
    str: ({"dtype": "string", "_type": "Value"}, pa.string()),
    int: ({"dtype": "int64", "_type": "Value"}, pa.int64()),
    float: ({"dtype": "float32", "_type": "Value"}, pa.float32()),
    np.ndarray: ({"_type": "Image"}, _IMAGE),
    list: (None, pa.list_(pa.struct([("role", pa.string()), ("content", _PARTS)]))),
    tuple: ({"feature": {"_type": "Image"}, "_type": "List"}, pa.list_(_IMAGE)),
}
"""Python type of a record field -> (HF feature, arrow type): a list is chat messages (their feature is read from
the arrow type), a tuple a list of images."""


def chat_record(record: dict[str, Any], system: str | None = SYSTEM_PROMPT) -> dict[str, Any]:
    """A record in TRL's conversational vision-language format: ``prompt`` the query's messages
    (`sole.models.base.query_messages`: system turn, then the image before the text), ``completion`` the
    assistant turn, ``images`` the composite; the other fields as they are."""
    rest = {k: v for k, v in record.items() if k not in ("prompt", "image", "completion")}
    return {"prompt": query_messages(record["prompt"], system=system),
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": record["completion"]}]}],
            "images": (record["image"],), **rest}


def _schema(record: dict[str, Any]) -> tuple[dict[str, type], pa.Schema]:
    kinds = {}
    for key, value in record.items():
        kind = next((t for t in _HF_TYPES if isinstance(value, t) and not isinstance(value, bool)), None)
        if kind is None:
            raise ValueError(f"record field {key!r} has type {type(value).__name__}; exportable: str, int, float, "
                             "uint8 image array, chat messages (list), images (tuple)")
        kinds[key] = kind
    features = {k: _HF_TYPES[t][0] for k, t in kinds.items() if _HF_TYPES[t][0] is not None}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    return kinds, pa.schema([pa.field(k, _HF_TYPES[t][1]) for k, t in kinds.items()], metadata=meta)


def export_hf(records: Iterable[dict[str, Any]], out: str | Path, split: str = "train", batch: int = 512, *,
              system: str | None = SYSTEM_PROMPT) -> Path:
    """Write ``records`` (progress records or foundation QA: a prompt, an image and a completion, and str, int and
    float fields) in TRL's conversational format (`chat_record`, with ``system`` as the system turn; None for
    none) as ``<out>/data/<split>-00000-of-00001.parquet``, loadable with ``datasets.load_dataset(out)`` and
    trainable by TRL's ``SFTTrainer`` and ``GRPOTrainer`` as it is; images become PNG `datasets.Image` features
    (the schema carries the HF feature types). Streams: ``batch`` records in memory at a time."""
    path = Path(out) / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in _batched((chat_record(r, system) for r in records), batch):
            if writer is None:
                kinds, schema = _schema(chunk[0])
                writer = pq.ParquetWriter(tmp, schema)
            columns = {k: [_cell(r[k], t) for r in chunk] for k, t in kinds.items()}
            writer.write_table(pa.table(columns, schema=schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no records to export")
    tmp.replace(path)
    return path


def _cell(value: Any, kind: type) -> Any:
    """A record field as its arrow column holds it: images as PNG bytes."""
    if kind is np.ndarray:
        return {"bytes": png_bytes(value), "path": None}
    return [_cell(v, np.ndarray) for v in value] if kind is tuple else value


def _batched(items: Iterable[Any], n: int) -> Iterator[tuple[Any, ...]]:
    """Tuples of ``n`` items (the last may be shorter); itertools.batched from Python 3.12 on."""
    it = iter(items)
    while chunk := tuple(itertools.islice(it, n)):
        yield chunk


def main(cfg: ExportConfig) -> dict[str, str]:
    """Write the records of each split; returns the parquet file of each set and split."""
    roots = {split: Path(cfg.root) / split for split in cfg.splits}
    for root in roots.values():
        require_complete(root)
    out, paths = Path(cfg.out or Path(cfg.root) / "hf"), {}
    for split, root in roots.items():
        with console.status(f"exporting {split} records for HF datasets"):
            paths[f"progress/{split}"] = str(export_hf(progress_records(root), out / "progress", split))
            paths[f"qa/{split}"] = str(export_hf(qa_records(root, cfg.size), out / "qa", split, system=None))
    console.print(f"exported {', '.join(paths)} -> {out}")
    return paths
