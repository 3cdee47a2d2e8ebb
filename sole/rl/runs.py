"""An RL run folder: its config and config hash, one metrics timeline, evaluation episodes, the plot, checkpoints.

A run folder holds ``config.json`` (the resolved config and its hash), ``metrics.jsonl`` (+ ``tb/`` for
TensorBoard), ``checkpoint.json`` naming the current checkpoint under ``checkpoints/``, ``success.png`` and, once
finished, ``result.json`` (with the same hash).

Resuming: `prepare_run` continues a folder only when the hash of the new config equals the one on disk, and
otherwise refuses, naming each differing field (old -> new); ``--no-resume`` starts the folder over. The hash
covers every config field except those the config class lists in ``UNHASHED``: the step budget (a rerun with more
steps extends the run), where the run is written and shown, and the hardware it runs on.

Checkpoints are written into a fresh directory, fsynced, then published by atomically replacing
``checkpoint.json``, so one complete checkpoint exists at every instant; directories it does not name are
leftovers of an interrupted write and are removed when a rerun resumes the folder. On resume, `open_logger` cuts
``metrics.jsonl`` back to the checkpoint's step and rebuilds ``tb/`` from it, so every reader sees one timeline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat

from sole.reward.rewarder import RewardConfig
from sole.reward.wrappers import EpisodeRecord, RewardVecEnv

if TYPE_CHECKING:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

EVAL_SEED_OFFSET = 10_000
"""Evaluation envs draw layouts from seeds never used in training."""
POINTER = "checkpoint.json"
"""The file naming a run's current checkpoint directory and its step."""


class RunConfig(Protocol):
    """A run command's config: a dataclass whose fields are hashed except ``UNHASHED``."""

    UNHASHED: ClassVar[tuple[str, ...]]
    __dataclass_fields__: ClassVar[dict[str, Any]]


def run_name(task: str, reward: RewardConfig, seed: int) -> str:
    """The default run folder name, ``<task>-<reward>[-<model>]-s<seed>`` (a path or ensemble spec stays one
    folder)."""
    source = re.sub(r"[-=:/\\{}+*]+", "-", reward.label()).strip("-")
    return f"{task}-{source}-s{seed}"


# --- config and its hash ------------------------------------------------------------------------------------------
def config_dict(cfg: RunConfig) -> dict[str, Any]:
    """The config as its config.json holds it (nested configs as dicts, tuples as lists)."""
    return json.loads(json.dumps(asdict(cfg)))  # type: ignore[call-overload]


def config_hash(cfg: RunConfig) -> str:
    """SHA-256 (16 hex digits) of every field but ``UNHASHED``: equal hashes, a run that may be resumed."""
    hashed = {k: v for k, v in config_dict(cfg).items() if k not in cfg.UNHASHED}
    return hashlib.sha256(json.dumps(hashed, sort_keys=True).encode()).hexdigest()[:16]


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def config_changes(saved: dict[str, Any], cfg: RunConfig) -> list[str]:
    """``field: old -> new`` for each hashed field (nested ones dotted, ``reward.scale``) that differs."""
    old, new = _flat(saved), _flat(config_dict(cfg))
    keys = [k for k in dict.fromkeys([*new, *old]) if k.split(".")[0] not in (*cfg.UNHASHED, "config_hash")]
    missing = "<absent>"
    return [f"{k}: {old.get(k, missing)!r} -> {new.get(k, missing)!r}" for k in keys
            if old.get(k, missing) != new.get(k, missing)]


def prepare_run(run: Path, cfg: RunConfig, resume: bool) -> None:
    """Make ``run`` the folder of ``cfg`` and write its config.json: without ``resume`` start it over; with it,
    keep a folder made with the same config hash and refuse any other."""
    saved = run / "config.json"
    if not resume:
        shutil.rmtree(run, ignore_errors=True)
    elif saved.exists():
        on_disk = json.loads(saved.read_text())
        if on_disk.get("config_hash") != config_hash(cfg):
            changes = "; ".join(config_changes(on_disk, cfg)) or "it was written without a config hash"
            raise ValueError(f"{run} holds a run with other settings ({changes}); rerun with the same settings to "
                             "resume it, give another --name, or pass --no-resume to start it over")
    elif run.is_dir() and any(run.iterdir()):
        raise ValueError(f"{run} holds files but no config.json, so it is not a run to resume; give another --name "
                         "or pass --no-resume to start it over")
    run.mkdir(parents=True, exist_ok=True)
    publish(saved, {**config_dict(cfg), "config_hash": config_hash(cfg)})


def finished(run: Path, cfg: RunConfig, steps: int) -> bool:
    """Whether ``run`` holds a result of ``cfg`` (same config hash) that covers ``steps``."""
    path = run / "result.json"
    if not path.exists():
        return False
    result = json.loads(path.read_text())
    return result.get("config_hash") == config_hash(cfg) and result["steps"] >= steps


# --- durable files ------------------------------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically and durably: a reader sees the old file or the new, whole."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(obj, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync(path.parent)


# --- checkpoints --------------------------------------------------------------------------------------------------
def save_checkpoint(run: Path, step: int, write: Callable[[Path], None]) -> Path:
    """Call ``write(dir)`` on a fresh directory, make it durable, then publish it as the run's checkpoint at
    ``step`` and remove the previous one; returns the directory."""
    root = run / "checkpoints"
    root.mkdir(exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f"step-{step}-", dir=root))
    write(new)
    for path in new.iterdir():
        _fsync(path)
    _fsync(new)
    _fsync(root)
    publish(run / POINTER, {"path": str(new.relative_to(run)), "step": step})
    _remove_leftovers(root, keep=new)
    return new


def current_checkpoint(run: Path) -> tuple[Path, int] | None:
    """The run's published checkpoint directory and step (None when it has none). Reading changes nothing, so a
    reader may look into a run that is still training."""
    pointer = run / POINTER
    if not pointer.exists():
        return None
    meta = json.loads(pointer.read_text())
    path = run / meta["path"]
    if not path.is_dir():
        raise FileNotFoundError(f"{pointer} names {path}, which is missing; pass --no-resume to start the run over")
    return path, int(meta["step"])


def resume_checkpoint(run: Path) -> tuple[Path, int] | None:
    """`current_checkpoint`, for the process that goes on writing the run: every other directory under
    ``checkpoints/`` is a leftover of an interrupted write and is removed."""
    ckpt = current_checkpoint(run)
    _remove_leftovers(run / "checkpoints", keep=ckpt[0] if ckpt else None)
    return ckpt


def _remove_leftovers(root: Path, keep: Path | None) -> None:
    if root.is_dir():
        for path in root.iterdir():
            if path != keep:
                shutil.rmtree(path, ignore_errors=True)


def load_policy(run: str | Path, *, unfinished: bool = False) -> tuple[dict[str, Any], OffPolicyAlgorithm]:
    """A `sole rl` run folder's saved config (a dict, as config.json holds it) and its final policy; with
    ``unfinished``, a run still training (or stopped) gives its last checkpoint's policy when it has no
    ``policy.zip`` yet."""
    from sole.rl.algos import algo_class

    run = Path(run)
    config = run / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"{config} not found: not a `sole rl` run folder")
    ckpt = current_checkpoint(run) if unfinished else None
    paths = [run / "policy.zip", *([ckpt[0] / "model.zip"] if ckpt else [])]
    for path in paths:
        if path.exists():
            saved = json.loads(config.read_text())
            return saved, algo_class(saved.get("algo", "sb3-sac")).load(path, device="cpu")
    raise FileNotFoundError(f"{' or '.join(map(str, paths))} not found: not a "
                            f"{'' if unfinished else 'finished '}`sole rl` run folder")


# --- metrics --------------------------------------------------------------------------------------------------------
class JSONLWriter(KVWriter):
    """SB3 logger output: one JSON object per dump, appended to ``path``."""

    def __init__(self, path: Path):
        self.file = open(path, "a")  # noqa: SIM115 - closed by close()

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        row = {"step": step} | {k: _plain(v) for k, v in key_values.items() if _plain(v) is not None}
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _plain(v: Any) -> float | str | None:
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return v if isinstance(v, str) else None


def read_metrics(run: Path, key: str) -> list[dict[str, float]]:
    """Rows of a run's metrics.jsonl that hold ``key`` (e.g. ``eval/success``), one timeline.

    A folder written before resuming cut the file back may hold rows of an interrupted run after the step its
    rerun resumed from; a row at or before an earlier row's step starts the later timeline, and the rows it
    replaces are dropped.
    """
    out: list[dict[str, float]] = []
    for row in _rows(Path(run) / "metrics.jsonl"):
        if key not in row:
            continue
        while out and out[-1]["step"] >= row["step"]:
            out.pop()
        out.append(row)
    return out


def _rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl; a line cut short by a killed writer is left out."""
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def last_step(run: Path) -> int:
    """The agent step of a run's last metrics row (0 before its first); reads only the file's tail."""
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        return 0
    with path.open("rb") as f:
        f.seek(max(f.seek(0, os.SEEK_END) - 4096, 0))
        lines = f.read().decode(errors="replace").splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return 0


def truncate_metrics(run: Path, step: int) -> list[dict[str, Any]]:
    """Cut ``metrics.jsonl`` back to the rows at or before ``step`` (the checkpoint a run resumes from); returns
    them."""
    path = run / "metrics.jsonl"
    rows = [row for row in _rows(path) if row["step"] <= step]
    if path.exists():
        fd, tmp = tempfile.mkstemp(prefix=".metrics.", suffix=".tmp", dir=run)
        with os.fdopen(fd, "w") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        os.replace(tmp, path)
    return rows


def open_logger(run: Path, step: int) -> Logger:
    """An SB3 logger appending to ``metrics.jsonl`` and to TensorBoard, both cut back to ``step``: TensorBoard's
    folder is rebuilt from the kept rows into one event file."""
    rows = truncate_metrics(run, step)
    shutil.rmtree(run / "tb", ignore_errors=True)
    tb = TensorBoardOutputFormat(str(run / "tb"))
    for row in rows:
        values = {k: v for k, v in row.items() if k != "step"}
        tb.write(values, dict.fromkeys(values), int(row["step"]))
    return Logger(str(run), [JSONLWriter(run / "metrics.jsonl"), tb])


# --- evaluation -----------------------------------------------------------------------------------------------------
def run_episodes(model: Any, venv: RewardVecEnv, episodes: int) -> list[EpisodeRecord]:
    """Roll a deterministic SB3 policy from a fresh reset until ``episodes`` episodes finished."""
    venv.finished.clear()
    obs = venv.reset()
    while len(venv.finished) < episodes:
        action, _ = model.predict(obs, deterministic=True)
        obs, *_ = venv.step(action)
    return venv.finished[:episodes]


def episode_metrics(records: list[EpisodeRecord], prefix: str) -> dict[str, float]:
    """Mean ground-truth and reward figures of finished episodes, under ``prefix/``."""
    return {
        f"{prefix}/success": float(np.mean([r.success for r in records])),
        f"{prefix}/ever_success": float(np.mean([r.ever_success for r in records])),
        f"{prefix}/hacking_rate": float(np.mean([r.hacked for r in records])),
        f"{prefix}/return": float(np.mean([r.ret for r in records])),
        f"{prefix}/true_progress": float(np.mean([r.true_progress for r in records])),
        f"{prefix}/reward_progress": float(np.mean([r.reward_progress for r in records])),
        f"{prefix}/parse_failures": float(np.mean([r.parse_failures for r in records])),
    }


def plot_success(rows: list[dict[str, float]], path: Path, title: str) -> Path:
    """Evaluation success and hacking rate against agent steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["eval/success"] for r in rows], marker="o", label="success (simulator)")
    ax.plot(steps, [r["eval/hacking_rate"] for r in rows], marker="x", ls="--", label="hacking rate")
    ax.set(xlabel="agent steps", ylabel="rate", ylim=(-0.05, 1.05), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
