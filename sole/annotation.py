"""`sole annotate`: add a reasoner's progress (and reasoning) to every frame of a LeRobot v3 dataset.

Reads a dataset in the LeRobot v3 layout (``meta/info.json``, ``meta/episodes/*/*.parquet``, ``data/*/*.parquet``,
``videos/<key>/*/*.mp4`` with episodes back to back in shared files): the layout LeRobot writes, and the one
`sole synth` writes. Per episode: its frames from the video keys mapped to the reasoner's views, its goal (the
episode's task text, or ``--goal``), and the SOLE-R1 loop over them (`sole.models.base.reason`). Writes a copy of
the dataset to ``--out`` with two more columns per frame, ``sole.progress`` (NaN for episodes not annotated) and
``sole.reasoning`` (the completion at queried frames with ``--think``, else empty), both declared in
``meta/info.json``, and ``meta/sole.json`` (model, views, goal and final progress per episode); with ``--reward``
also LeRobot's ``next.reward``, and with ``--progress-parquet`` a ``sole_progress.parquet`` in the layout LeRobot's
progress-weighted behaviour cloning reads. The new columns' stats go into ``meta/stats.json``. Cameras stored as
videos and cameras stored as images in the data parquet (``use_videos=False``) are both read. The copy is built
under a temporary name (``.<out>.<pid>.tmp``) and renamed into place when complete; a temporary copy left by a
process that was killed is removed by the next run. The input is only read. `sole synth`'s own training cache
(``cache/``, ``shards/``) is not copied: the result is a plain LeRobot dataset.

Each camera maps to at most one view: a dataset with one camera is read with the other view black
(``--views external=observation.images.top wrist=none``), said in the notes, never by giving one camera twice.
"""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sole.models.base import Clip, Reasoner, reason
from sole.models.registry import load_reasoner
from sole.models.score import read_video

console = Console()
PROGRESS, REASONING = "sole.progress", "sole.reasoning"
REWARD = "next.reward"
"""LeRobot's per-frame reward column."""
PROGRESS_FILE = "sole_progress.parquet"
"""The per-frame progress table for LeRobot's progress-weighted behaviour cloning (RA-BC)."""
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
"""The quantiles LeRobot v3 keeps in meta/stats.json (``q01`` ... ``q99``)."""
NO_CAMERA = "none"
"""``--views VIEW=none``: the view has no camera and is read as black frames."""
PRIVATE = ("cache", "shards")
"""`sole synth`'s training cache and manifests: not part of the LeRobot dataset, not copied."""


@dataclass(frozen=True)
class AnnotateConfig:
    root: str
    """A LeRobot v3 dataset folder (meta/info.json, meta/episodes, data, videos), e.g. one `sole synth` wrote."""
    out: str
    """Folder for the annotated copy; it must not exist yet (or be empty)."""
    model: str = "compact"
    """Reasoner spec (`sole.models.registry`): compact, a checkpoint directory, api:URL, hf:PATH, ... Experimental:
    checked:SPEC, contrast:SPEC, gated:SPEC and the min:/median:/mean: ensembles."""
    views: tuple[str, ...] = ()
    """VIEW=VIDEO_KEY pairs mapping the reasoner's views to the dataset's cameras, e.g.
    ``external=observation.images.top wrist=observation.images.wrist``; default: ``observation.images.<view>`` for
    each view the reasoner reads. Each camera serves one view; ``VIEW=none`` leaves a view black (a dataset with
    one camera)."""
    goal: str | None = None
    """One goal for every episode; default: each episode's own task text (``tasks`` in meta/episodes)."""
    episodes: tuple[int, ...] = ()
    """Episode indices to annotate (default: all); the others get NaN progress."""
    think: bool = False
    """Write the reasoning too (slower)."""
    stride: int = 1
    """Query every k-th frame; progress is interpolated in between, reasoning is written at queried frames."""
    size: int = 64
    """Frames are scaled to this square size as they are decoded (the compact model's input)."""
    batch: int = 16
    """Episodes read together (one batched query per step across them)."""
    reward: bool = False
    """Also write LeRobot's reward column ``next.reward`` (float32): the progress of annotated frames; frames of
    other episodes keep the dataset's own value (NaN where it had none)."""
    progress_parquet: bool = False
    """Also write ``sole_progress.parquet`` at the copy's root: ``index``, ``episode_index``, ``frame_index`` and
    ``progress_sparse`` per frame, the layout LeRobot's progress-weighted behaviour cloning reads
    (``--use_rabc --rabc_progress_path <copy>/sole_progress.parquet``)."""
    link_videos: bool = False
    """Hard-link the video files into the copy instead of copying them (same filesystem only; the copy then
    shares those files with the input)."""


# ----------------------------------------------------------------------------------------------- reading


def read_info(root: Path) -> dict[str, Any]:
    path = root / "meta" / "info.json"
    if not path.is_file():
        raise FileNotFoundError(f"no LeRobot dataset at {root}: {path} is missing")
    info = json.loads(path.read_text())
    version = str(info.get("codebase_version", "?"))
    if not version.startswith("v3"):
        raise ValueError(f"{root} is a LeRobot {version} dataset; this reads the v3 layout (episodes in shared "
                         "files, meta/episodes/*.parquet); convert it with LeRobot's v2.1 -> v3.0 script first")
    return info


def episode_rows(root: Path, wanted: tuple[int, ...]) -> list[dict[str, Any]]:
    """Rows of meta/episodes (``wanted`` ones, or all), in the order their data and videos are stored."""
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise FileNotFoundError(f"{root}/meta/episodes holds no parquet files")
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    if missing := sorted(set(wanted) - {r["episode_index"] for r in rows}):
        raise ValueError(f"episodes {missing} are not in {root} (it holds {len(rows)} episodes, "
                         f"indices {min(r['episode_index'] for r in rows)}..{max(r['episode_index'] for r in rows)})")
    rows = [r for r in rows if not wanted or r["episode_index"] in wanted]
    return sorted(rows, key=lambda r: (r["data/chunk_index"], r["data/file_index"], r["dataset_from_index"]))


def view_keys(info: dict[str, Any], views: tuple[str, ...], pairs: tuple[str, ...]) -> dict[str, str | None]:
    """Reasoner view -> dataset video key (None: left black), checked against the dataset's video features."""
    videos = sorted(k for k, f in info["features"].items() if f.get("dtype") in ("video", "image"))
    if bad := [p for p in pairs if "=" not in p]:
        raise ValueError(f"--views takes VIEW=VIDEO_KEY pairs, got {bad}")
    named = [p.split("=", 1)[0] for p in pairs]
    if twice := sorted({v for v in named if named.count(v) > 1}):
        raise ValueError(f"--views maps {twice} more than once; give each view one camera")
    given = dict(p.split("=", 1) for p in pairs)
    keys = {v: given.get(v, f"observation.images.{v}") for v in views}
    keys = {v: None if k == NO_CAMERA else k for v, k in keys.items()}
    if missing := {v: k for v, k in keys.items() if k is not None and k not in videos}:
        raise ValueError(f"the reasoner reads views {', '.join(views)}; no video key {missing} in the dataset, "
                         f"which has {', '.join(videos) or 'no cameras'}; map them with --views VIEW=KEY, or "
                         f"VIEW={NO_CAMERA} to leave a view black")
    used = [k for k in keys.values() if k is not None]
    if shared := sorted({k for k in used if used.count(k) > 1}):
        both = [v for v, k in keys.items() if k == shared[0]]
        raise ValueError(f"--views gives the camera {shared[0]} to views {', '.join(both)}; each view is its own "
                         f"camera (one camera twice reads as a scene the model never saw). With one camera, leave "
                         f"the other view black: --views {both[0]}={shared[0]} {both[-1]}={NO_CAMERA}")
    if all(k is None for k in keys.values()):
        raise ValueError(f"--views leaves every view ({', '.join(views)}) black; map at least one to a camera")
    return keys


def black_view_notes(keys: dict[str, str | None]) -> list[str]:
    return [f"no camera for the {v} view (--views {v}={NO_CAMERA}): the model sees black frames there"
            for v, k in keys.items() if k is None]


def episode_goal(row: dict[str, Any], goal: str | None) -> str:
    if goal is not None:
        return goal
    tasks = row.get("tasks") or []
    if not tasks or not str(tasks[0]).strip():
        raise ValueError(f"episode {row['episode_index']} has no task text in meta/episodes; give --goal")
    return str(tasks[0])


class VideoReader:
    """An episode's frames of one camera key, decoding each shared file once (the last one per key is kept, and
    episodes are read in storage order). Cameras stored as videos are read from their mp4 files; cameras stored as
    images (a dataset made with ``use_videos=False``) from the encoded images in the data parquet."""

    def __init__(self, root: Path, info: dict[str, Any], size: int):
        self.root, self.info, self.size = root, info, size
        self._open: dict[str, tuple[Path, np.ndarray]] = {}
        self._table: tuple[Path, pa.Table] | None = None

    def frames(self, row: dict[str, Any], key: str) -> np.ndarray:
        if self.info["features"][key]["dtype"] == "image":
            return self._images(row, key)
        path = self.root / self.info["video_path"].format(video_key=key, chunk_index=row[f"videos/{key}/chunk_index"],
                                                          file_index=row[f"videos/{key}/file_index"])
        if key not in self._open or self._open[key][0] != path:
            self._open[key] = (path, read_video(path, self.size))
        decoded = self._open[key][1]
        start, n = round(row[f"videos/{key}/from_timestamp"] * self.info["fps"]), row["length"]
        if start + n > len(decoded):
            raise ValueError(f"episode {row['episode_index']}: {path} holds {len(decoded)} frames, the episode needs "
                             f"frames {start}..{start + n - 1}")
        return decoded[start: start + n]

    def _images(self, row: dict[str, Any], key: str) -> np.ndarray:
        from PIL import Image

        from sole.models.score import to_uint8_frames

        path = self.root / self.info["data_path"].format(chunk_index=row["data/chunk_index"],
                                                         file_index=row["data/file_index"])
        if self._table is None or self._table[0] != path:
            self._table = (path, pq.read_table(path))
        table = self._table[1]
        mine = pa.compute.equal(table["episode_index"], row["episode_index"])
        cells = table.filter(mine).sort_by("frame_index")[key].to_pylist()
        frames = np.stack([np.asarray(Image.open(io.BytesIO(c["bytes"])).convert("RGB")) for c in cells])
        return to_uint8_frames(frames, self.size, key)


# ----------------------------------------------------------------------------------------------- annotating


@dataclass
class Annotation:
    goal: str
    progress: np.ndarray
    """(T,) per frame."""
    texts: dict[int, str]
    """Frame -> reasoning written there (with --think)."""
    parse_failures: int = 0
    """Queried frames whose answer did not parse (`sole.models.base.Judgement.parse_failures`)."""


def episode_clip(row: dict[str, Any], keys: dict[str, str | None], videos: VideoReader) -> Clip:
    """An episode's frames per view; a view without a camera is black."""
    read = {v: videos.frames(row, k) for v, k in keys.items() if k is not None}
    shape = next(iter(read.values())).shape
    return Clip({v: read[v] if v in read else np.zeros(shape, np.uint8) for v in keys})


def annotate_episodes(cfg: AnnotateConfig, reasoner: Reasoner, rows: list[dict[str, Any]],
                      keys: dict[str, str | None], videos: VideoReader) -> dict[int, Annotation]:
    out: dict[int, Annotation] = {}
    with Progress(TextColumn("[bold]annotate"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console) as bar:
        job = bar.add_task("annotate", total=len(rows))
        for i in range(0, len(rows), cfg.batch):
            batch = rows[i: i + cfg.batch]
            clips = [episode_clip(r, keys, videos) for r in batch]
            goals = [episode_goal(r, cfg.goal) for r in batch]
            for row, goal, judged in zip(batch, goals, reason(reasoner, clips, goals, think=cfg.think,
                                                              stride=cfg.stride), strict=True):
                out[row["episode_index"]] = Annotation(goal, judged.per_frame.astype(np.float32),
                                                       {t: s.text for t, s in judged.steps if s.text},
                                                       judged.parse_failures)
            bar.update(job, advance=len(batch))
    return out


# ----------------------------------------------------------------------------------------------- writing


def annotated_table(table: pa.Table, notes: dict[int, Annotation], reward: bool = False) -> pa.Table:
    """A data file's frames with the annotation columns appended (replacing those of an earlier annotation);
    with ``reward``, ``next.reward`` holds the progress of annotated frames."""
    eps, frames = table["episode_index"].to_pylist(), table["frame_index"].to_pylist()
    old = table[REWARD].to_pylist() if REWARD in table.column_names else [None] * len(eps)
    table = table.drop_columns([c for c in (PROGRESS, REASONING, *((REWARD,) if reward else ()))
                                if c in table.column_names])
    progress = [float(notes[e].progress[t]) if e in notes else float("nan") for e, t in zip(eps, frames, strict=True)]
    texts = [notes[e].texts.get(t, "") if e in notes else "" for e, t in zip(eps, frames, strict=True)]
    table = (table.append_column(PROGRESS, pa.array(progress, pa.float32()))
             .append_column(REASONING, pa.array(texts, pa.string())))
    if reward:
        kept = [p if e in notes else float("nan") if o is None else float(o)
                for p, e, o in zip(progress, eps, old, strict=True)]
        table = table.append_column(REWARD, pa.array(kept, pa.float32()))
    return table


def column_stats(values: np.ndarray) -> dict[str, list[float]]:
    """LeRobot v3 stats of a scalar column over its finite values: min, max, mean, std, count, q01 ... q99."""
    finite = values[np.isfinite(values)].astype(np.float64)
    if not len(finite):
        return {"count": [0]}
    stats = {"min": finite.min(), "max": finite.max(), "mean": finite.mean(), "std": finite.std()}
    stats |= {f"q{round(100 * q):02d}": np.quantile(finite, q) for q in QUANTILES}
    return {k: [float(v)] for k, v in stats.items()} | {"count": [len(finite)]}


def write_extras(cfg: AnnotateConfig, tmp: Path) -> None:
    """Stats of the new columns into meta/stats.json, and the RA-BC progress table with ``progress_parquet``."""
    data = pa.concat_tables([pq.read_table(p, columns=["index", "episode_index", "frame_index", PROGRESS,
                                                       *((REWARD,) if cfg.reward else ())])
                             for p in sorted((tmp / "data").glob("*/*.parquet"))]).sort_by("index")
    path = tmp / "meta" / "stats.json"
    stats = json.loads(path.read_text()) if path.is_file() else {}
    for col in (PROGRESS, *((REWARD,) if cfg.reward else ())):
        stats[col] = column_stats(data[col].to_numpy(zero_copy_only=False))
    path.write_text(json.dumps(stats, indent=2))
    if cfg.progress_parquet:
        table = pa.table({"index": data["index"].cast(pa.int64()),
                          "episode_index": data["episode_index"].cast(pa.int64()),
                          "frame_index": data["frame_index"].cast(pa.int64()), "progress_sparse": data[PROGRESS]})
        pq.write_table(table.replace_schema_metadata({b"reward_model_path": cfg.model.encode()}),
                       tmp / PROGRESS_FILE)


def _copy_tree(root: Path, dest: Path, link_videos: bool) -> None:
    def copy(src: str, dst: str) -> None:
        if link_videos and Path(src).suffix == ".mp4":
            os.link(src, dst)
        else:
            shutil.copy2(src, dst)

    shutil.copytree(root, dest, copy_function=copy,
                    ignore=lambda d, names: [n for n in names if Path(d) == root and n in PRIVATE])


def temporary_copy(out: Path) -> Path:
    """Where the copy for ``out`` is built, ``.<out>.<pid>.tmp``, after removing those of processes that died."""
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        pid = stale.name.removeprefix(f".{out.name}.").removesuffix(".tmp")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    return tmp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_copy(cfg: AnnotateConfig, info: dict[str, Any], keys: dict[str, str | None],
               notes: dict[int, Annotation]) -> Path:
    root, out = Path(cfg.root), Path(cfg.out)
    tmp = temporary_copy(out)
    try:
        _copy_tree(root, tmp, cfg.link_videos)
        for path in sorted((tmp / "data").glob("*/*.parquet")):
            pq.write_table(annotated_table(pq.read_table(path), notes, cfg.reward), path)
        scalar = {"shape": [1], "names": None}
        added = {PROGRESS: {"dtype": "float32", **scalar}, REASONING: {"dtype": "string", **scalar}}
        if cfg.reward:
            added[REWARD] = {"dtype": "float32", **scalar}
        info = info | {"features": info["features"] | added}
        (tmp / "meta" / "info.json").write_text(json.dumps(info, indent=2))
        write_extras(cfg, tmp)
        summary = {"config": asdict(cfg), "views": keys, "notes": black_view_notes(keys),
                   "episodes": [{"episode_index": e, "goal": a.goal, "frames": len(a.progress),
                                 "final_progress": round(float(a.progress[-1]), 4),
                                 "parse_failures": a.parse_failures}
                                for e, a in sorted(notes.items())]}
        (tmp / "meta" / "sole.json").write_text(json.dumps(summary, indent=2))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # nothing half-written is left beside --out
        raise
    if out.exists():
        out.rmdir()  # empty: checked before any work
    os.replace(tmp, out)
    return out


def annotate(cfg: AnnotateConfig, reasoner: Reasoner | None = None) -> Path:
    """Write the annotated copy of ``cfg.root`` to ``cfg.out`` (read by ``reasoner``, default ``cfg.model``)."""
    root, out = Path(cfg.root), Path(cfg.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not empty; give a new folder for the annotated copy")
    if out.resolve().is_relative_to(root.resolve()):
        raise ValueError(f"--out {out} lies inside --root {root}; put the annotated copy elsewhere")
    if cfg.stride < 1 or cfg.batch < 1:
        raise ValueError(f"stride and batch must be >= 1, got {cfg.stride} and {cfg.batch}")
    info = read_info(root)
    rows = episode_rows(root, cfg.episodes)
    reasoner = reasoner or load_reasoner(cfg.model)
    keys = view_keys(info, reasoner.views, cfg.views)
    for note in black_view_notes(keys):
        console.print(f"[yellow]note:[/yellow] {note}")
    notes = annotate_episodes(cfg, reasoner, rows, keys, VideoReader(root, info, cfg.size))
    return write_copy(cfg, info, keys, notes)


def main(cfg: AnnotateConfig) -> Path:
    out = annotate(cfg)
    episodes = json.loads((out / "meta" / "sole.json").read_text())["episodes"]
    table = Table(title=f"{len(episodes)} episodes of {cfg.root} read by {cfg.model}")
    for col in ("episode", "goal", "frames", "final progress"):
        table.add_column(col)
    for e in episodes[:20]:
        table.add_row(str(e["episode_index"]), e["goal"], str(e["frames"]), f"{100 * e['final_progress']:.0f}%")
    console.print(table)
    if len(episodes) > 20:
        console.print(f"... {len(episodes) - 20} more in {out / 'meta' / 'sole.json'}")
    if failed := [e for e in episodes if e["parse_failures"]]:
        console.print(f"[yellow]warning:[/yellow] answers that did not parse in {len(failed)} episodes "
                      f"({sum(e['parse_failures'] for e in failed)} in all); progress kept the previous value there")
    mean = np.mean([e["final_progress"] for e in episodes]) if episodes else float("nan")
    console.print(f"mean final progress {100 * mean:.0f}%; annotated copy: {out} (columns {PROGRESS}, {REASONING})")
    return out
