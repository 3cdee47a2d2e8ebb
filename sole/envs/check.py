"""`sole check envs`: does every task's scripted expert succeed, and does its progress label behave?

Per task and seed, under the RL protocol (agent steps with action repeat, progress read on the agent-step frames):

- **expert**: the scripted Meta-World expert for ``agent_steps`` agent steps. Reports whether it ever succeeded
  (Meta-World's flag, at any env step), progress at the start and at the first successful frame, the ungated
  progress there (a big gap means the label jumps at success), and Spearman(progress, time) up to first success.
  It also counts frames where ``progress >= 0.95`` disagrees with Meta-World's success flag (must be 0).
- **random**: uniform random actions; final progress (a label that rewards flailing is a bad label).
- **undo**: the expert until its object is half way (``move >= 0.5``) or the task is solved, then the expert's
  actions replayed backwards (x, y, z reversed) while the objects are driven back along a straight line in joint
  space to where they started (pushing tasks cannot pull an object back with physics alone). Reports the drop from
  that peak to the end, and Spearman(progress, time) over the undo phase (should be strongly negative).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from scipy.stats import spearmanr

from sole.envs.progress import SOLVED_FLOOR, Privileged
from sole.envs.tasks import resolve_tasks

console = Console(width=None if sys.stdout.isatty() else 120)

TARGETS: dict[str, tuple[str, float]] = {
    "start": ("<", 0.15),
    "at_success": (">=", SOLVED_FLOOR),
    "spearman": (">=", 0.9),
    "random_final": ("<", 0.3),
    "undo_drop": (">", 0.25),
}
"""Suite-level targets on the per-task means, averaged over tasks."""


def meets(key: str, value: float) -> bool:
    """Whether ``value`` meets the target of ``key`` (`TARGETS`)."""
    op, bound = TARGETS[key]
    return bool(value < bound if op == "<" else value > bound if op == ">" else value >= bound)


@dataclass(frozen=True)
class CheckConfig:
    tasks: str = "all"
    """Tasks to check: ``all``, ``fold-a``, ``fold-b`` or comma-separated names."""
    seeds: int = 10
    """Seeds (object/goal layouts) per task."""
    workers: int = 2
    """Worker processes (spawned); 1 runs in this process."""
    out: str = "out/check_envs.json"
    """Where the per-task results and the summary are written."""
    agent_steps: int = 100
    """Agent steps per episode (the RL protocol: 100)."""
    action_repeat: int = 2
    """Env steps per agent step (the RL protocol: 2)."""

    def validate(self) -> tuple[str, ...]:
        if self.seeds < 1 or self.workers < 1 or self.agent_steps < 2 or self.action_repeat < 1:
            raise ValueError(f"seeds, workers and action_repeat must be >= 1 and agent_steps >= 2; got {self}")
        return resolve_tasks(self.tasks)


# --- rollouts -----------------------------------------------------------------------------------------------------
def act(env, action: np.ndarray, repeat: int) -> Privileged:  # noqa: ANN001 - a TaskEnv
    """One agent step: the action repeated ``repeat`` env steps; the label after the last."""
    for _ in range(repeat):
        env.step(action)
    return env.privileged()


def rollout(env, policy: Callable[[int], np.ndarray], agent_steps: int, repeat: int,  # noqa: ANN001
            frames: dict[str, list[np.ndarray]] | None = None) -> list[Privileged]:
    """Reset and run ``policy(k)`` for ``agent_steps`` agent steps; one label per frame (``agent_steps + 1``).

    With ``frames``, the rendered views of every frame are appended to it (view name -> list of images)."""
    env.reset()
    labels = [env.privileged()]
    for k in range(agent_steps + 1):
        if frames is not None:
            for view, img in env.render_views().items():
                frames.setdefault(view, []).append(img)
        if k < agent_steps:
            labels.append(act(env, policy(k), repeat))
    return labels


def spearman(values: list[float]) -> float:
    """Spearman correlation of ``values`` with time; NaN when too short or constant."""
    if len(values) < 3 or np.ptp(values) == 0:
        return float("nan")
    return float(spearmanr(np.arange(len(values)), values).statistic)


def expert_stats(labels: list[Privileged]) -> dict[str, float]:
    progress = [p.progress for p in labels]
    first = next((i for i, p in enumerate(labels) if p.success), None)
    end = len(labels) if first is None else first + 1
    return {
        "success": float(labels[-1].ever_success),
        "start": progress[0],
        "at_success": progress[first] if first is not None else float("nan"),
        "raw_at_success": labels[first].terms["raw"] if first is not None else float("nan"),
        "first_success_frame": float(first) if first is not None else float("nan"),
        "spearman": spearman(progress[:end]),
        "gate_errors": float(sum((p.progress >= SOLVED_FLOOR) != p.success for p in labels)),
    }


def undo_stats(env, agent_steps: int, repeat: int) -> dict[str, float]:  # noqa: ANN001
    """Expert until half way or solved, then reverse its actions and drive the objects back to their start."""
    env.reset()
    start_objects = env.object_qpos()
    actions: list[np.ndarray] = []
    label = env.privileged()
    while len(actions) < agent_steps and not (label.success or label.terms["move"] >= 0.5):
        actions.append(env.expert_action())
        label = act(env, actions[-1], repeat)
    peak, peak_objects = label.progress, env.object_qpos()
    undo = [peak]
    for i, a in enumerate(reversed(actions), start=1):
        act(env, np.concatenate([-a[:3], a[3:]]), repeat)
        w = i / len(actions)
        env.set_object_qpos((1 - w) * peak_objects + w * start_objects)
        undo.append(env.privileged().progress)
    return {"undo_peak": peak, "undo_final": undo[-1], "undo_drop": peak - undo[-1], "undo_spearman": spearman(undo)}


def check_seed(task: str, seed: int, agent_steps: int, repeat: int) -> dict[str, float]:
    """The expert, random and undo rollouts of one task on one seed's layouts."""
    from sole.envs.sim import make_env

    env = make_env(task, seed=seed)
    rng = np.random.default_rng(seed)
    try:
        row = expert_stats(rollout(env, lambda k: env.expert_action(), agent_steps, repeat))
        row["random_final"] = rollout(env, lambda k: rng.uniform(-1, 1, 4), agent_steps, repeat)[-1].progress
        row.update(undo_stats(env, agent_steps, repeat))
    finally:
        env.close()
    return row


def finite_mean(values: Sequence[float | None]) -> float:
    """Mean of the defined values (a metric is undefined, NaN or null, on a seed or a task where an expert never
    succeeded, or where no expert was solved); NaN if there are none."""
    defined = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(defined)) if defined else float("nan")


def nan_means(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per metric, `finite_mean` over ``rows`` (a metric can be undefined on a seed or a task, such as the progress
    at success of an expert that never succeeded)."""
    return {k: finite_mean([r[k] for r in rows]) for k in rows[0]}


def check_task(task: str, seeds: int, agent_steps: int, repeat: int) -> dict[str, float]:
    """Per-metric means over ``seeds`` seeds (NaN-aware); ``gate_errors`` is a total."""
    rows = [check_seed(task, seed, agent_steps, repeat) for seed in range(seeds)]
    out = nan_means(rows)
    out["gate_errors"] = float(sum(r["gate_errors"] for r in rows))
    return out


def _finite(obj: object) -> object:
    """NaN -> None, recursively, so the JSON is strict."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return None if isinstance(obj, float) and not np.isfinite(obj) else obj


def machine() -> str:
    """The machine a measurement ran on, for reports."""
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def write_json(path: str | Path, report: dict[str, object]) -> Path:
    """Write a report as strict JSON (NaN -> null), creating folders."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_finite(report), indent=1))
    return out


def _worker(job: tuple[str, int, int, int]) -> tuple[str, dict[str, float]]:
    os.environ.setdefault("LP_NUM_THREADS", "1")
    return job[0], check_task(*job)


# --- report -------------------------------------------------------------------------------------------------------
def summarize(per_task: dict[str, dict[str, float]]) -> dict[str, object]:
    means = nan_means(list(per_task.values()))
    checks = {}
    for key, (op, bound) in TARGETS.items():
        value = means[key]
        checks[key] = {"mean": value, "target": f"{op} {bound}", "pass": meets(key, value)}
    return {
        "means": means,
        "targets": checks,
        "gate_errors": int(sum(m["gate_errors"] for m in per_task.values())),
        "expert_fails": {t: m["success"] for t, m in per_task.items() if m["success"] < 1.0},
        "undo_not_falling": [t for t, m in per_task.items() if not m["undo_drop"] > TARGETS["undo_drop"][1]],
    }


COLUMNS: dict[str, str] = {
    "success": "succ", "start": "start", "at_success": "p@succ", "raw_at_success": "raw@succ", "spearman": "rho",
    "random_final": "random", "undo_peak": "undo pk", "undo_final": "undo end", "undo_spearman": "undo rho",
}
"""Metric -> short table header."""


def print_table(per_task: dict[str, dict[str, float]], summary: dict[str, object]) -> None:
    table = Table(title="sole check envs (means over seeds)")
    table.add_column("task", no_wrap=True)
    for header in COLUMNS.values():
        table.add_column(header, justify="right")
    cols = tuple(COLUMNS)
    for task, m in per_task.items():
        table.add_row(task, *(f"{m[c]:.2f}" for c in cols))
    table.add_row("[bold]mean", *(f"[bold]{summary['means'][c]:.2f}" for c in cols))  # type: ignore[index]
    console.print(table)
    for key, res in summary["targets"].items():  # type: ignore[union-attr]
        mark = "[green]pass" if res["pass"] else "[red]FAIL"
        console.print(f"{mark}[/] {key}: {res['mean']:.3f} (target {res['target']})")
    console.print(f"gate errors (progress >= 0.95 disagrees with success): {summary['gate_errors']}")
    console.print(f"tasks where Meta-World's expert does not always succeed: {summary['expert_fails']}")


def main(cfg: CheckConfig) -> dict[str, object]:
    tasks = cfg.validate()
    jobs = [(t, cfg.seeds, cfg.agent_steps, cfg.action_repeat) for t in tasks]
    results: dict[str, dict[str, float]] = {}
    with Progress(console=console) as bar:
        track = bar.add_task("checking tasks", total=len(jobs))
        if cfg.workers == 1:
            for job in jobs:
                results[job[0]] = check_task(*job)
                bar.advance(track)
        else:
            with mp.get_context("spawn").Pool(cfg.workers) as pool:
                for task, res in pool.imap_unordered(_worker, jobs):
                    results[task] = res
                    bar.advance(track)
    per_task = {t: results[t] for t in tasks}
    summary = summarize(per_task)
    print_table(per_task, summary)
    report = {"config": asdict(cfg), "machine": machine(), "summary": summary, "tasks": per_task}
    console.print(f"wrote {write_json(cfg.out, report)}")
    return report
