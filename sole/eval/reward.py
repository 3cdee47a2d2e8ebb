"""`sole eval reward`: how good is a reasoner's progress as a reward, on tasks it never saw.

Every task is scored by the model that never saw it (``--model held-out``), or by one named model, with the
evaluation protocol (`sole.eval.protocol`): per task VOC on expert videos, VROC on reversed ones, progress MAE,
success-detection AUROC, hacking-pair accuracy per look-alike family, the confusion margin, language grounding and,
with ``--think``, CoT fact accuracy. A table is printed, and ``metrics.json`` (a row per task and their mean) plus
a PNG plot are written under ``--out``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tyro  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from sole.envs.tasks import resolve_tasks  # noqa: E402
from sole.eval.protocol import EvalSpec, by_task, evaluate_task, mean_row  # noqa: E402
from sole.models.base import Reasoner  # noqa: E402
from sole.models.registry import spec_for_task  # noqa: E402


@dataclass(frozen=True)
class EvalRewardConfig:
    data: str = "data/eval"
    """Root of a synthesized evaluation set (see `sole synth`); several, comma-separated, are read together (e.g.
    with mined policy episodes, `sole rl mine`)."""
    model: str = "held-out"
    """``held-out`` scores each task with the shipped model that never saw it; otherwise a reasoner spec or path,
    in which ``{fold}`` is each task's fold (`sole.models.registry`). Experimental: checked:SPEC, contrast:SPEC,
    gated:SPEC and the min:/median:/mean: ensembles."""
    tasks: str = "all"
    """Tasks to evaluate: all, fold-a, fold-b or a comma-separated list."""
    protocol: Annotated[EvalSpec, tyro.conf.OmitArgPrefixes] = field(default_factory=EvalSpec)
    """How the episodes are read and measured (`sole.eval.protocol`)."""
    out: str = "out/eval_reward"
    """Output folder for metrics.json and plots."""


def main(cfg: EvalRewardConfig) -> dict:
    from sole.data.store import load_datasets
    from sole.models.registry import load_reasoner

    tasks = resolve_tasks(cfg.tasks)
    episodes = by_task(load_datasets(cfg.data, tasks=list(tasks)))
    missing = [t for t in tasks if t not in episodes]
    if missing:
        raise ValueError(f"no evaluation episodes in {cfg.data} for tasks: {', '.join(missing)}")
    rng = np.random.default_rng(cfg.protocol.seed)
    models: dict[str, Reasoner] = {}
    rows = []
    for task in track(tasks, description="evaluating reward"):
        spec = spec_for_task(cfg.model, task)
        if spec not in models:
            models[spec] = load_reasoner(spec)
        rows.append({"model": spec, **evaluate_task(models[spec], task, episodes[task], cfg.protocol, rng)})
    result = {"config": asdict(cfg), "tasks": rows, "mean": mean_row(rows)}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    _plot(rows, out / "reward_metrics.png")
    print_table(rows, result["mean"], cfg.model)
    return result


COLUMNS = ("voc", "vroc", "mae", "auroc", "hack_acc", "confusion", "win/opposite", "voc/opposite", "win/unrelated")


def print_table(rows: list[dict], mean: dict, model: str) -> None:
    seen = "each task read by the model that never saw it" if model == "held-out" else model
    table = Table(title=f"reward metrics ({seen})")
    table.add_column("task")
    for c in COLUMNS:
        table.add_column(c, justify="right")
    for r in [*rows, {"task": "[bold]mean[/bold]", **mean}]:
        table.add_row(r["task"], *(f"{r.get(c, float('nan')):.2f}" for c in COLUMNS))
    Console().print(table)


def _plot(rows: list[dict], path: Path) -> None:
    names = [r["task"] for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(max(8, 0.28 * len(rows)), 8), sharex=True)
    for ax, key, ref in zip(axes, ("voc", "hack_acc", "confusion"), (0.85, 0.9, 0.0), strict=True):
        ax.bar(names, [r[key] for r in rows], color="tab:blue")
        ax.axhline(ref, color="tab:red", lw=1, ls="--")
        ax.set_ylabel(key)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].tick_params(axis="x", rotation=90, labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
