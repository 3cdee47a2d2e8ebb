"""`sole eval compare`: several `sole eval reward` runs side by side, on the same tasks.

Each run folder holds the ``metrics.json`` that `sole eval reward` wrote. The comparison reads their means, and
VOC split into the tasks whose opposite-verb sibling is a suite task (window-close, ...) and the others, since a
fold model reads those two groups very differently. Means over different task sets are not comparable, so runs
must have read the same tasks. Prints a table and writes ``compare.json`` and ``compare.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from sole.envs.check import finite_mean  # noqa: E402
from sole.envs.tasks import get_task  # noqa: E402

COLUMNS = ("voc", "vroc", "mae", "auroc", "hack_acc", "confusion", "win/opposite")
"""Means shown per run (all of them go to compare.json)."""
TARGETS = {"voc": 0.85, "hack_acc": 0.9, "confusion": 0.0, "auroc": None}
"""The metrics drawn, with the issue's target line where it has one."""


@dataclass
class EvalCompareConfig:
    runs: tuple[str, ...]
    """Folders written by `sole eval reward` (each with metrics.json)."""
    labels: tuple[str, ...] = ()
    """A name per run for the table and plot (default: the folder names)."""
    out: str = "out/eval_compare"
    """Folder for compare.json and compare.png."""


def main(cfg: EvalCompareConfig) -> list[dict]:
    if cfg.labels and len(cfg.labels) != len(cfg.runs):
        raise ValueError(f"{len(cfg.labels)} labels for {len(cfg.runs)} runs; give one label per run or none")
    labels = cfg.labels or tuple(Path(r).name for r in cfg.runs)
    rows = [summarise(label, Path(run)) for label, run in zip(labels, cfg.runs, strict=True)]
    first = rows[0]["tasks"]
    for r in rows[1:]:
        if r["tasks"] != first:
            diff = sorted(set(first) ^ set(r["tasks"]))
            raise ValueError(f"{r['path']} read other tasks than {rows[0]['path']} ({', '.join(diff)}): "
                             "means over different tasks are not comparable")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(rows, indent=1))
    _plot(rows, out / "compare.png")
    print_table(rows)
    return rows


def summarise(label: str, run: Path) -> dict:
    """The means of one run, and its VOC over opposite-verb tasks and over the others."""
    path = run / "metrics.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: give folders written by `sole eval reward --out`")
    metrics = json.loads(path.read_text())
    tasks = metrics["tasks"]
    opposite = [t["voc"] for t in tasks if get_task(t["task"]).opposite]
    other = [t["voc"] for t in tasks if not get_task(t["task"]).opposite]
    return {"label": label, "path": str(run), "tasks": sorted(t["task"] for t in tasks),
            "mean": metrics["mean"], "voc/opposite-tasks": finite_mean(opposite), "voc/other-tasks": finite_mean(other)}


SPLIT = ("voc/opposite-tasks", "voc/other-tasks")


def print_table(rows: list[dict]) -> None:
    table = Table(title=f"reward metrics, mean over {len(rows[0]['tasks'])} tasks")
    for c in ("run", *COLUMNS, *SPLIT):
        table.add_column(c, justify="left" if c == "run" else "right")
    for r in rows:
        table.add_row(r["label"], *(f"{r['mean'].get(c, float('nan')):.2f}" for c in COLUMNS),
                      *(f"{r[c]:.2f}" for c in SPLIT))
    Console(width=max(120, Console().width)).print(table)


def _plot(rows: list[dict], path: Path) -> None:
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(3.2 * len(TARGETS), 3.6), sharey=False)
    x = np.arange(len(rows))
    for ax, (key, target) in zip(axes, TARGETS.items(), strict=True):
        ax.bar(x, [r["mean"][key] for r in rows], color="tab:blue")
        if target is not None:
            ax.axhline(target, color="tab:red", lw=1, ls="--")
        ax.set_title(key)
        ax.set_xticks(x, [r["label"] for r in rows], rotation=60, ha="right", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
