"""Episodes on disk: a LeRobot v3-style dataset plus a decoded-frame cache for fast training reads.

Layout of one dataset root (one shard = a batch of episodes written by one worker)::

    meta/info.json                                   features, fps, paths, totals (LeRobot v3 keys)
    meta/tasks.parquet                               task_index, name (our task name); index: task (goal text)
    meta/episodes/chunk-000/file-NNN.parquet         one row per episode: length, data/video file and range
    data/chunk-000/file-NNN.parquet                  one row per frame: LeRobot columns + progress, kind,
                                                     facts (JSON), labels (JSON: goal task -> progress)
    videos/observation.images.<view>/chunk-000/file-NNN.mp4   the shard's episodes back to back (H.264)
    cache/chunk-000/file-NNN.npz                     uint8 frames per view, labels, actions, episode records
    shards/file-NNN.json                             the shard's manifest: its episodes and each file's size
                                                     and SHA-256; written last, so it marks a finished shard

Every file is written to a temporary name and renamed into place, and the manifest comes last: a shard either
has a manifest whose files all match it, or it is unfinished and is written again. A file that does not match
its manifest (truncated, edited) is an error when reading (`load_episodes`) and a shard to redo when writing
(`shard_status`). ``meta/info.json`` is written once every shard is (`write_meta`): it marks the dataset
complete, and every reader refuses a dataset without it (`require_complete`), naming the command in the
dataset's ``config.json`` that finishes it. Training reads only the cache (`load_episodes`); the parquet and mp4
files are for LeRobot users and for inspection.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sole.envs.tasks import TASKS, get_task, task_index
from sole.synth.episode import Episode
from sole.video import write_mp4

FPS = 40
"""Frames per second of the stored videos: one frame per agent step of 2 env steps of 12.5 ms."""
CHUNK = "chunk-000"
STATE_NAMES = ["x", "y", "z", "gripper"]
ACTION_NAMES = ["dx", "dy", "dz", "grip"]
ShardState = Literal["done", "missing", "corrupt"]


def video_key(view: str) -> str:
    return f"observation.images.{view}"


def _name(shard: int) -> str:
    return f"file-{shard:03d}"


def shard_files(shard: int, views: Iterable[str]) -> list[str]:
    """Relative paths of one shard's files (the manifest excluded)."""
    name = _name(shard)
    return ([f"data/{CHUNK}/{name}.parquet", f"meta/episodes/{CHUNK}/{name}.parquet", f"cache/{CHUNK}/{name}.npz"]
            + [f"videos/{video_key(v)}/{CHUNK}/{name}.mp4" for v in views])


def manifest_path(root: Path, shard: int) -> Path:
    return root / "shards" / f"{_name(shard)}.json"


# --- atomic writes ----------------------------------------------------------------------------------------------
def _atomic(path: Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and rename the result into place.

    The temporary name carries the process id: a writer killed mid-file can leave an encoder subprocess behind
    (ffmpeg outlives a SIGKILLed parent), and that orphan must not be able to write into the next run's file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    write(tmp)
    os.replace(tmp, path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, obj: Any) -> None:
    _atomic(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n"))


# --- one shard ----------------------------------------------------------------------------------------------------
def _frame_table(episodes: list[Episode], first_index: list[int]) -> pa.Table:
    cols: dict[str, list[Any]] = {k: [] for k in ("index", "episode_index", "frame_index", "timestamp", "task_index",
                                                  "observation.state", "action", "progress", "kind", "facts",
                                                  "labels")}
    for ep, start in zip(episodes, first_index, strict=True):
        for t, facts in enumerate(ep.facts):
            cols["index"].append(start + t)
            cols["episode_index"].append(ep.index)
            cols["frame_index"].append(t)
            cols["timestamp"].append(t / FPS)
            cols["task_index"].append(task_index(ep.task))
            cols["observation.state"].append([*facts["hand"], facts["gripper_open"]])
            cols["action"].append(ep.actions[t].tolist())
            cols["progress"].append(float(ep.labels[ep.task][t]))
            cols["kind"].append(ep.kind)
            cols["facts"].append(json.dumps(facts, sort_keys=True))
            cols["labels"].append(json.dumps({g: round(float(v[t]), 4) for g, v in ep.labels.items()}, sort_keys=True))
    schema = pa.schema([("index", pa.int64()), ("episode_index", pa.int64()), ("frame_index", pa.int64()),
                        ("timestamp", pa.float32()), ("task_index", pa.int64()),
                        ("observation.state", pa.list_(pa.float32(), 4)), ("action", pa.list_(pa.float32(), 4)),
                        ("progress", pa.float32()), ("kind", pa.string()), ("facts", pa.string()),
                        ("labels", pa.string())])
    return pa.table(cols, schema=schema)


def _episode_table(episodes: list[Episode], first_index: list[int], shard: int, views: list[str]) -> pa.Table:
    rows: list[dict[str, Any]] = []
    offset = 0
    for ep, start in zip(episodes, first_index, strict=True):
        row: dict[str, Any] = {
            "episode_index": ep.index, "tasks": [get_task(ep.task).goals[0]], "length": len(ep),
            "data/chunk_index": 0, "data/file_index": shard,
            "dataset_from_index": start, "dataset_to_index": start + len(ep),
            "meta/episodes/chunk_index": 0, "meta/episodes/file_index": shard,
            "task": ep.task, "kind": ep.kind, "seed": ep.seed, "success": ep.success,
            "meta": json.dumps(ep.meta, sort_keys=True),
        }
        for view in views:
            key = video_key(view)
            row |= {f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": shard,
                    f"videos/{key}/from_timestamp": offset / FPS,
                    f"videos/{key}/to_timestamp": (offset + len(ep)) / FPS}
        offset += len(ep)
        rows.append(row)
    return pa.Table.from_pylist(rows)


def _write_video(path: Path, frames: np.ndarray) -> None:
    write_mp4(path, frames, fps=FPS)


def _episode_record(ep: Episode) -> dict[str, Any]:
    return {"task": ep.task, "kind": ep.kind, "seed": ep.seed, "index": ep.index, "success": ep.success,
            "meta": ep.meta, "facts": ep.facts, "goals": sorted(ep.labels)}


def _write_cache(path: Path, episodes: list[Episode], views: list[str]) -> None:
    arrays: dict[str, np.ndarray] = {f"frames/{v}": np.stack([ep.frames[v] for ep in episodes]) for v in views}
    arrays["actions"] = np.stack([ep.actions for ep in episodes]).astype(np.float32)
    for i, ep in enumerate(episodes):
        for goal, lab in ep.labels.items():
            arrays[f"labels/{i}/{goal}"] = lab.astype(np.float32)
    arrays["episodes"] = np.array(json.dumps([_episode_record(ep) for ep in episodes], sort_keys=True))
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_shard(root: str | Path, shard: int, episodes: list[Episode], first_index: list[int]) -> dict[str, Any]:
    """Write one shard of ``episodes`` (global frame index of each episode's first frame in ``first_index``).

    Returns the manifest, written last (atomically) as the shard's completion mark.
    """
    root = Path(root)
    if not episodes:
        raise ValueError(f"shard {shard}: no episodes to write")
    views = sorted(episodes[0].frames)
    files = shard_files(shard, views)
    _atomic(root / files[0], lambda tmp: pq.write_table(_frame_table(episodes, first_index), tmp))
    _atomic(root / files[1], lambda tmp: pq.write_table(_episode_table(episodes, first_index, shard, views), tmp))
    _atomic(root / files[2], lambda tmp: _write_cache(tmp, episodes, views))
    for view, rel in zip(views, files[3:], strict=True):
        frames = np.concatenate([ep.frames[view] for ep in episodes])
        _atomic(root / rel, lambda tmp, frames=frames: _write_video(tmp, frames))
    manifest = {
        "shard": shard, "views": views,
        "episodes": [{"index": ep.index, "task": ep.task, "kind": ep.kind, "length": len(ep),
                      "first_frame": start} for ep, start in zip(episodes, first_index, strict=True)],
        "files": {rel: {"bytes": (root / rel).stat().st_size, "sha256": _sha256(root / rel)} for rel in files},
    }
    write_json(manifest_path(root, shard), manifest)
    return manifest


def read_manifest(root: str | Path, shard: int) -> dict[str, Any] | None:
    path = manifest_path(Path(root), shard)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"shard manifest {path} is not valid JSON ({err}); delete it and rerun `sole synth`") from err


def shard_problems(root: str | Path, manifest: dict[str, Any], *, full: bool = True) -> list[str]:
    """Files of a shard that do not match its manifest (size always; SHA-256 too when ``full``)."""
    problems = []
    for rel, want in manifest["files"].items():
        path = Path(root) / rel
        if not path.exists():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != want["bytes"]:
            problems.append(f"{rel}: {path.stat().st_size} bytes, manifest says {want['bytes']}")
        elif full and _sha256(path) != want["sha256"]:
            problems.append(f"{rel}: content differs from its manifest")
    return problems


def shard_status(root: str | Path, shard: int, indices: list[int]) -> tuple[ShardState, list[str]]:
    """Whether shard ``shard`` holds exactly the episodes ``indices`` with intact files."""
    manifest = read_manifest(root, shard)
    if manifest is None:
        return "missing", []
    have = [e["index"] for e in manifest["episodes"]]
    if have != indices:
        return "corrupt", [f"holds episodes {have}, the plan wants {indices}"]
    problems = shard_problems(root, manifest)
    return ("corrupt" if problems else "done"), problems


# --- dataset-level metadata ---------------------------------------------------------------------------------------
def _features(views: list[str], size: int) -> dict[str, Any]:
    scalar = {"shape": [1], "names": None}
    video = {"dtype": "video", "shape": [size, size, 3], "names": ["height", "width", "channels"],
             "info": {"video.height": size, "video.width": size, "video.codec": "h264", "video.pix_fmt": "yuv420p",
                      "video.is_depth_map": False, "video.fps": FPS, "video.channels": 3, "has_audio": False}}
    return {
        **{video_key(v): video for v in views},
        "observation.state": {"dtype": "float32", "shape": [4], "names": STATE_NAMES},
        "action": {"dtype": "float32", "shape": [4], "names": ACTION_NAMES},
        "progress": {"dtype": "float32", **scalar},
        "kind": {"dtype": "string", **scalar},
        "facts": {"dtype": "string", **scalar},
        "labels": {"dtype": "string", **scalar},
        **{k: {"dtype": "int64", **scalar} for k in ("frame_index", "episode_index", "index", "task_index")},
        "timestamp": {"dtype": "float32", **scalar},
    }


_TASKS_PANDAS = json.dumps({
    "index_columns": ["task"], "column_indexes": [], "pandas_version": "2.2.0",
    "columns": [{"name": n, "field_name": n, "pandas_type": t, "numpy_type": nt, "metadata": None}
                for n, t, nt in (("task_index", "int64", "int64"), ("name", "unicode", "object"),
                                 ("task", "unicode", "object"))],
}).encode()
"""pandas metadata of meta/tasks.parquet: LeRobot reads it with pandas and expects the task text as the index."""


def write_meta(root: str | Path, manifests: list[dict[str, Any]], size: int) -> Path:
    """info.json and tasks.parquet for a dataset whose shards are all written."""
    root = Path(root)
    views = manifests[0]["views"]
    n_episodes = sum(len(m["episodes"]) for m in manifests)
    n_frames = sum(e["length"] for m in manifests for e in m["episodes"])
    names = [*TASKS, *sorted({e["task"] for m in manifests for e in m["episodes"]} - set(TASKS), key=task_index)]
    goals = [get_task(n).goals[0] for n in names]
    tasks = pa.table({"task_index": [task_index(n) for n in names], "name": names,
                      "task": goals}).replace_schema_metadata({b"pandas": _TASKS_PANDAS})
    _atomic(root / "meta" / "tasks.parquet", lambda tmp: pq.write_table(tasks, tmp))
    info = {
        "codebase_version": "v3.0", "robot_type": "sawyer", "fps": FPS,
        "total_episodes": n_episodes, "total_frames": n_frames, "total_tasks": len(names),
        "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
        "splits": {"train": f"0:{n_episodes}"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": _features(views, size),
    }
    write_json(root / "meta" / "info.json", info)
    return root / "meta" / "info.json"


def content_hash(root: str | Path) -> str:
    """SHA-256 over every shard manifest and the metadata files: equal hashes mean equal datasets."""
    root = Path(root)
    h = hashlib.sha256()
    meta = [root / "meta" / "info.json", root / "meta" / "tasks.parquet"]
    for path in sorted([*(root / "shards").glob("*.json"), *meta]):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# --- reading -------------------------------------------------------------------------------------------------------
def _finish_command(root: Path) -> str:
    """How to finish the dataset at ``root``: the command its config.json records, else a general hint."""
    saved = root / "config.json"
    command = json.loads(saved.read_text()).get("command") if saved.exists() else None
    return f"`{command}`" if command else "the command that wrote it, unchanged"


def _manifests(root: Path) -> list[dict[str, Any]]:
    """The shard manifests of a complete dataset (see `require_complete`)."""
    paths = sorted((root / "shards").glob("file-*.json"))
    if not paths:
        raise FileNotFoundError(f"no dataset at {root}: no shards/file-*.json (write one with `sole synth`)")
    manifests = [json.loads(p.read_text()) for p in paths]
    info = root / "meta" / "info.json"
    n_episodes = sum(len(m["episodes"]) for m in manifests)
    counted = json.loads(info.read_text())["total_episodes"] if info.exists() else None
    if counted != n_episodes:
        state = "no meta/info.json" if counted is None else f"meta/info.json counts {counted}"
        raise ValueError(f"the dataset at {root} is incomplete ({n_episodes} episodes written, {state}): its writing "
                         f"stopped before the end; finish it with {_finish_command(root)}")
    return manifests


def require_complete(root: str | Path) -> Path:
    """The dataset folder of ``root`` (see `split_root`) if its writing finished; otherwise an error that says how
    to finish it. Every reader of this module checks this first."""
    root = split_root(root)
    _manifests(root)
    return root


def _read_cache(root: Path, manifest: dict[str, Any], keep: set[int]) -> list[Episode]:
    rel = shard_files(manifest["shard"], manifest["views"])[2]
    try:
        with np.load(root / rel) as z:
            records = json.loads(str(z["episodes"]))
            frames = {v: z[f"frames/{v}"] for v in manifest["views"]}
            actions = z["actions"]
            episodes = []
            for i, rec in enumerate(records):
                if rec["index"] not in keep:
                    continue
                labels = {g: z[f"labels/{i}/{g}"] for g in rec["goals"]}
                episodes.append(Episode(task=rec["task"], kind=rec["kind"], seed=rec["seed"],
                                        frames={v: f[i] for v, f in frames.items()}, labels=labels,
                                        facts=rec["facts"], actions=actions[i], success=rec["success"],
                                        index=rec["index"], meta=rec["meta"]))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        raise ValueError(f"cache file {root / rel} is unreadable ({err}); rerun `sole synth` to rewrite it") from err
    return episodes


def split_root(root: str | Path) -> Path:
    """A dataset folder; a `sole synth` output folder stands for its ``train`` split."""
    root = Path(root)
    return root / "train" if not (root / "shards").exists() and (root / "train" / "shards").exists() else root


def iter_episodes(root: str | Path, tasks: Iterable[str] | None = None,
                  kinds: Iterable[str] | None = None) -> Iterator[Episode]:
    """Episodes shard by shard (only some tasks and kinds, if given), frames from the decoded cache.

    Holds one shard in memory at a time. A shard whose cache does not match its manifest is an error.
    """
    root = split_root(root)
    want_tasks = None if tasks is None else {get_task(t).name for t in tasks}
    want_kinds = None if kinds is None else set(kinds)
    for manifest in _manifests(root):
        keep = {e["index"] for e in manifest["episodes"]
                if (want_tasks is None or e["task"] in want_tasks) and (want_kinds is None or e["kind"] in want_kinds)}
        if not keep:
            continue
        cache = {rel: want for rel, want in manifest["files"].items() if rel.startswith("cache/")}
        problems = shard_problems(root, {"files": cache}, full=False)
        if problems:
            raise ValueError(f"shard {manifest['shard']} of {root} is damaged: {'; '.join(problems)}; "
                             "rerun `sole synth` with the same config to rewrite it")
        yield from _read_cache(root, manifest, keep)


def load_episodes(root: str | Path, tasks: Iterable[str] | None = None,
                  kinds: Iterable[str] | None = None) -> list[Episode]:
    """All episodes of a dataset (or a `sole synth` output folder's train split), in index order.

    ``tasks`` and ``kinds`` filter without reading the other shards. About 2.5 MB of frames per episode in memory.
    """
    return sorted(iter_episodes(root, tasks, kinds), key=lambda e: e.index)


def load_datasets(roots: str, tasks: Iterable[str] | None = None,
                  kinds: Iterable[str] | None = None) -> list[Episode]:
    """`load_episodes` of several datasets given comma-separated (e.g. a synthesis split and mined policy
    episodes), one after the other; a missing folder is an error."""
    episodes: list[Episode] = []
    for root in (r.strip() for r in roots.split(",") if r.strip()):
        if not Path(root).is_dir():
            raise FileNotFoundError(f"no dataset at {root}; build one with `sole synth` first")
        episodes += load_episodes(root, tasks, kinds)
    return episodes


def dataset_summary(root: str | Path) -> list[dict[str, Any]]:
    """Per-episode index, task, kind and length from the manifests alone (no frames read)."""
    return [e for m in _manifests(split_root(root)) for e in m["episodes"]]
