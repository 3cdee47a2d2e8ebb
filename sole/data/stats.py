"""`sole data stats`: what a synthesized dataset holds, from its parquet files (no frames decoded).

Episodes per task and kind, final-progress and success figures per kind, histograms of the own-goal and
counterfactual-goal progress labels, and the length of the chain of thought that `sole.data.cot.make_cot`
writes for the dataset's frames. Saves ``stats.json`` and ``stats.png`` and prints a table.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from sole.data.cot import cot_words, make_cot, verify_cot
from sole.data.store import dataset_summary, require_complete
from sole.envs.tasks import TASKS, get_task

console = Console()


@dataclass(frozen=True)
class StatsConfig:
    """Summarise a synthesized dataset (one split folder, e.g. data/synth-all/train)."""

    root: str = "data/synth"
    """Dataset folder (holds meta/, data/, shards/), or a `sole synth` output folder (its train split)."""
    out: str | None = None
    """Where stats.json and stats.png go (default: <root>/stats)."""
    cot_frames: int = 5000
    """Frames (evenly spread over the dataset) whose chain of thought is generated, measured and verified, for one
    labelled goal and one mismatched goal each."""
    seed: int = 0
    """Seed of the CoT wording draws."""


def read_frames(root: Path) -> dict[str, list[Any]]:
    """The per-frame columns of every data file, concatenated."""
    files = sorted((root / "data").glob("chunk-*/file-*.parquet"))
    if not files:
        raise FileNotFoundError(f"no data/chunk-*/file-*.parquet under {root}; is it a `sole synth` split folder?")
    cols: dict[str, list[Any]] = defaultdict(list)
    for f in files:
        table = pq.read_table(f, columns=["episode_index", "frame_index", "progress", "kind", "facts", "labels"])
        for name, values in table.to_pydict().items():
            cols[name].extend(values)
    return cols


def _cots(cols: dict[str, list[Any]], n: int, rng: np.random.Generator) -> tuple[list[int], int]:
    """Words of the CoT of ``n`` evenly spread frames (for a goal drawn from the frame's labelled goals and one
    mismatched goal), and how many of those CoTs `verify_cot` rejects."""
    rows = [i for i, t in enumerate(cols["frame_index"]) if t > 0]
    words, rejected = [], 0
    for i in np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int):
        r = rows[i]
        cur, prev = json.loads(cols["facts"][r]), json.loads(cols["facts"][r - 1])
        labels, prev_labels = json.loads(cols["labels"][r]), json.loads(cols["labels"][r - 1])
        goal = sorted(labels)[int(rng.integers(len(labels)))]
        mismatch = next(t for t in TASKS if TASKS[t].scene != get_task(cur["task"]).scene)
        for g, p, q in ((goal, prev_labels[goal], labels[goal]), (mismatch, 0.0, 0.0)):
            text = make_cot(g, g, prev, cur, p, q, rng)
            words.append(cot_words(text))
            rejected += bool(verify_cot(text, prev, cur, q, goal_task=g))
    return words, rejected


def _plot(path: Path, stats: dict[str, Any], own: np.ndarray, counter: np.ndarray, words: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    kinds = stats["episodes_per_kind"]
    axes[0].bar(list(kinds), list(kinds.values()))
    axes[0].set_title("episodes per kind")
    axes[0].tick_params(axis="x", rotation=60)
    bins = np.linspace(0, 1, 21)
    axes[1].hist([own, counter], bins=bins, label=["own goal", "counterfactual goal"], log=True)
    axes[1].set_title("progress labels (frames)")
    axes[1].legend()
    axes[2].hist(words, bins=range(min(words, default=0), max(words, default=1) + 2))
    axes[2].set_title("chain-of-thought length (words)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(cfg: StatsConfig) -> dict[str, Any]:
    root = require_complete(cfg.root)
    cols = read_frames(root)
    episodes = dataset_summary(root)
    own = np.asarray(cols["progress"], np.float32)
    counter = np.asarray([v for lab, facts in zip(cols["labels"], cols["facts"], strict=True)
                          for g, v in json.loads(lab).items() if g != json.loads(facts)["task"]], np.float32)
    last = {e: p for e, p in zip(cols["episode_index"], cols["progress"], strict=True)}  # the last frame wins
    final_by_kind: dict[str, list[float]] = defaultdict(list)
    for e in episodes:
        final_by_kind[e["kind"]].append(last[e["index"]])
    words, rejected = _cots(cols, cfg.cot_frames, np.random.default_rng(cfg.seed))
    stats = {
        "episodes": len(episodes), "frames": len(own),
        "episodes_per_kind": dict(Counter(e["kind"] for e in episodes)),
        "episodes_per_task": dict(Counter(e["task"] for e in episodes)),
        "final_progress_per_kind": {k: round(float(np.mean(v)), 3) for k, v in final_by_kind.items()},
        "progress_histogram": np.histogram(own, bins=10, range=(0, 1))[0].tolist(),
        "counterfactual_histogram": np.histogram(counter, bins=10, range=(0, 1))[0].tolist(),
        "cot_words": {"mean": round(float(np.mean(words)), 1), "min": int(min(words)), "max": int(max(words)),
                      "p50": float(np.percentile(words, 50)), "p95": float(np.percentile(words, 95))},
        "cot_checked": len(words), "cot_rejected": rejected,
    }
    out = Path(cfg.out) if cfg.out else root / "stats"
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    _plot(out / "stats.png", stats, own, counter, words)
    table = Table(title=f"{root}: {stats['episodes']} episodes, {stats['frames']} frames")
    for col in ("kind", "episodes", "mean final progress"):
        table.add_column(col)
    for kind, n in stats["episodes_per_kind"].items():
        table.add_row(kind, str(n), f"{stats['final_progress_per_kind'][kind]:.2f}")
    console.print(table)
    console.print(f"CoT words: {stats['cot_words']}; verify_cot rejected {rejected} of {len(words)}; "
                  f"{len(stats['episodes_per_task'])} tasks -> {out}")
    return stats
