"""`sole eval reward`: how good is a reasoner's progress as a reward, on tasks it never saw.

Every task is scored by the fold model that was not trained on it (``--model held-out``), or by one named model.
Per task it reports VOC on expert videos, VROC on reversed ones, progress MAE, success-detection AUROC,
hacking-pair accuracy per exploit family, the video-language confusion margin, language grounding (correct goal
vs the opposite verb vs an unrelated task, same video; VOC under the opposite verb, which falls for a model that
reads the verb) and, with ``--think``, CoT fact accuracy. A table is printed,
and JSON plus PNG plots are written under ``--out``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import track  # noqa: E402
from rich.table import Table  # noqa: E402

from sole.data.episode import Episode  # noqa: E402
from sole.envs.progress import SOLVED_FLOOR  # noqa: E402
from sole.envs.tasks import TASKS, get_task, resolve_tasks  # noqa: E402
from sole.eval.metrics import auroc, confusion_margin, finite_mean, first_solved, hack_pair_accuracy, mae, voc  # noqa: E402
from sole.models.base import Judgement, Reasoner  # noqa: E402
from sole.models.registry import spec_for_task  # noqa: E402
from sole.train.evaluate import readings, written_facts  # noqa: E402

HACK_KINDS = ("hover", "near-miss", "look-away", "frozen", "occluded", "reversed", "policy")
"""Rollout kinds that look like progress without doing the task; each is paired against successful experts.
``policy`` is a trained RL policy's rollout (`sole synth mine`); like every family, only those that end unsolved
count."""


@dataclass(frozen=True)
class EvalRewardConfig:
    data: str = "data/eval"
    """Root of a synthesized evaluation set (see `sole synth`); several, comma-separated, are read together (e.g.
    with mined policy episodes, `sole synth mine`)."""
    model: str = "held-out"
    """``held-out`` scores each task with the fold model that never saw it; otherwise a reasoner spec or path, in
    which ``{fold}`` is each task's held-out fold (`sole.models.registry.spec_for_task`)."""
    tasks: str = "all"
    """Tasks to evaluate: all, fold-a, fold-b or a comma-separated list."""
    stride: int = 1
    """Query every k-th frame and interpolate (the published tooling uses ~10 queries per video)."""
    think: bool = False
    """Generate the reasoning text too (slower) and score CoT fact accuracy."""
    n_other_goals: int = 3
    """Unrelated-task goals per expert video for the confusion margin."""
    seed: int = 0
    """Seeds the choice of unrelated goals."""
    out: str = "out/eval_reward"
    """Output folder for metrics.json and plots."""


def _score(reasoner: Reasoner, jobs: list[tuple[Episode, str]], cfg: EvalRewardConfig) -> list[Judgement]:
    return readings(reasoner, [ep for ep, _ in jobs], [g for _, g in jobs], think=cfg.think, stride=cfg.stride)


def _other_scene_tasks(task: str, rng: np.random.Generator, n: int) -> list[str]:
    scene = get_task(task).scene
    pool = sorted(name for name, s in TASKS.items() if s.scene != scene)
    return list(rng.choice(pool, size=min(n, len(pool)), replace=False))


def evaluate_task(reasoner: Reasoner, task: str, episodes: list[Episode], cfg: EvalRewardConfig,
                  rng: np.random.Generator) -> dict:
    """All reward metrics of one task from its evaluation episodes."""
    spec = get_task(task)
    goal = spec.goals[0]
    own = _score(reasoner, [(ep, goal) for ep in episodes], cfg)
    final = np.array([j.progress for j in own])
    final_labels = np.array([ep.label(task)[-1] for ep in episodes])
    solved = final_labels >= SOLVED_FLOOR
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, ep in enumerate(episodes):
        by_kind[ep.kind].append(i)
    experts = [i for i in by_kind.get("expert", []) if solved[i]]
    row: dict = {
        "task": task, "episodes": len(episodes),
        "voc": float(np.mean([voc(own[i].answers(first_solved(episodes[i].label(task)))) for i in experts]))
        if experts else float("nan"),
        "vroc": float(np.mean([voc(own[i].answers()) for i in by_kind.get("reversed", [])]))
        if by_kind.get("reversed") else float("nan"),
        "mae": float(np.mean([mae(j.per_frame, ep.label(task)) for j, ep in zip(own, episodes, strict=True)])),
        "auroc": auroc(final, solved),
    }
    kinds = [ep.kind for ep in episodes]
    for kind in HACK_KINDS:
        row[f"hack/{kind}"] = hack_pair_accuracy(kinds, final_labels, final, kind)
    hacks = [v for k, v in row.items() if k.startswith("hack/") and not np.isnan(v)]
    row["hack_acc"] = float(np.mean(hacks)) if hacks else float("nan")
    row.update(_language(reasoner, task, [episodes[i] for i in experts], final[experts], cfg, rng))
    if cfg.think:
        row["cot_fact_acc"] = _fact_accuracy(episodes, own)
    return row


def _language(reasoner: Reasoner, task: str, experts: list[Episode], correct: np.ndarray, cfg: EvalRewardConfig,
              rng: np.random.Generator) -> dict:
    """Confusion margin and grounding: the same expert videos under other goals."""
    if not experts:
        return {"confusion": float("nan"), "win/opposite": float("nan"), "win/unrelated": float("nan"),
                "voc/opposite": float("nan")}
    others = _other_scene_tasks(task, rng, cfg.n_other_goals)
    jobs = [(ep, get_task(o).goals[0]) for ep in experts for o in others]
    opposite = get_task(task).opposite
    if opposite:
        jobs += [(ep, get_task(opposite).goals[0]) for ep in experts]
    judged = _score(reasoner, jobs, cfg)
    finals = np.array([j.progress for j in judged])
    n = len(experts) * len(others)
    unrelated = finals[:n].reshape(len(experts), len(others))
    return {
        "confusion": float(np.mean([confusion_margin(c, list(u)) for c, u in zip(correct, unrelated, strict=True)])),
        "win/unrelated": float(np.mean(correct[:, None] > unrelated)),
        "win/opposite": float(np.mean(correct > finals[n:])) if opposite else float("nan"),
        # the same expert read under the opposite verb: a model that reads the verb sees progress fall (near -1)
        "voc/opposite": float(np.mean([voc(j.answers(first_solved(ep.label(task))))
                                       for j, ep in zip(judged[n:], experts, strict=True)])) if opposite
        else float("nan"),
    }


def _fact_accuracy(episodes: list[Episode], judged: list[Judgement]) -> float:
    """Mean over generated reasoning steps of the share of their claims (the progress number aside, which MAE
    judges) that the simulator's facts between the previous queried frame and this one verify: the measure of
    SFT validation and of GRPO's reward (`sole.train.evaluate.written_facts`)."""
    acc = written_facts(episodes, judged)
    return float(np.mean(acc)) if acc else float("nan")


def main(cfg: EvalRewardConfig) -> dict:
    from sole.data.store import load_datasets
    from sole.models.registry import load_reasoner

    tasks = resolve_tasks(cfg.tasks)
    episodes = load_datasets(cfg.data, tasks=list(tasks))
    by_task: dict[str, list[Episode]] = defaultdict(list)
    for ep in episodes:
        by_task[ep.task].append(ep)
    missing = [t for t in tasks if not by_task[t]]
    if missing:
        raise ValueError(f"no evaluation episodes in {cfg.data} for tasks: {', '.join(missing)}")
    rng = np.random.default_rng(cfg.seed)
    models: dict[str, Reasoner] = {}
    rows = []
    for task in track(tasks, description="evaluating reward"):
        spec = spec_for_task(cfg.model, task)
        if spec not in models:
            models[spec] = load_reasoner(spec)
        rows.append({"model": spec, **evaluate_task(models[spec], task, by_task[task], cfg, rng)})
    result = {"config": asdict(cfg), "tasks": rows, "mean": _mean(rows)}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=1))
    _plot(rows, out / "reward_metrics.png")
    print_table(rows, result["mean"], cfg.model)
    return result


def _mean(rows: list[dict]) -> dict:
    keys = [k for k, v in rows[0].items() if isinstance(v, float)]
    return {k: finite_mean([r[k] for r in rows]) for k in keys}


COLUMNS = ("voc", "vroc", "mae", "auroc", "hack_acc", "confusion", "win/opposite", "voc/opposite", "win/unrelated")


def print_table(rows: list[dict], mean: dict, model: str) -> None:
    seen = "each task read by the fold model that never saw it" if model == "held-out" else model
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
