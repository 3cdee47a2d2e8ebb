"""`sole check gate`: what the cap of `gated:` readers (`sole.models.gated`) does, task by task.

For each task, over a few layouts: the lowest cap at the first solved frame of the scripted expert (1.0: the gate
lets a solved episode be read as solved) and the highest cap at the end of a look-away episode, where the open
gripper is raised away from the untouched object (the closed cap: the gate holds the answer at the approach
share). Prints a table and writes the per-task figures and a summary as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from sole.data.store import write_json
from sole.envs.progress import SOLVED_FLOOR
from sole.envs.sim import SCENE, make_env
from sole.envs.tasks import resolve_tasks
from sole.models.gated import CLOSED, HIGH, LOW, PIXEL_STEP, cap, scene_change
from sole.synth.rollouts import rollout


@dataclass(frozen=True)
class GateCheckConfig:
    """Per task: the gate's cap when the expert first solves the task, and at the end of a look-away episode."""

    tasks: str = "all"
    """Tasks: ``all``, ``fold-a``, ``fold-b`` or comma-separated names."""
    seeds: int = 2
    """Layouts per task (rollout seeds 1000, 1001, ...)."""
    out: str = "out/check_gate.json"
    """Where the per-task figures and the summary are written."""


def check_task(task: str, seeds: int) -> dict[str, Any]:
    """The lowest cap at an expert's first solved frame and the highest at a look-away's last frame, over seeds."""
    env = make_env(task, views=(SCENE,))
    solved, untouched = [], []
    try:
        for seed in range(1000, 1000 + seeds):
            expert = rollout(env, "expert", seed)
            frames = expert.frames[SCENE]
            done = np.flatnonzero(expert.label(task) >= SOLVED_FLOOR)
            if len(done):
                solved.append(cap(scene_change(frames[0], frames[done[0]])))
            away = rollout(env, "look-away", seed).frames[SCENE]
            untouched.append(cap(scene_change(away[0], away[-1])))
    finally:
        env.close()
    return {"solved_cap": min(solved) if solved else None, "experts_solved": len(solved),
            "look_away_cap": max(untouched)}


def main(cfg: GateCheckConfig) -> dict[str, Any]:
    tasks = resolve_tasks(cfg.tasks)
    rows = {task: check_task(task, cfg.seeds) for task in track(tasks, description="gate")}
    opens = [t for t, r in rows.items() if r["solved_cap"] == 1.0]
    shut = [t for t, r in rows.items() if r["look_away_cap"] == CLOSED]
    summary = {"tasks": len(rows), "opens_when_solved": len(opens), "closed_on_look_away": len(shut),
               "both": len(set(opens) & set(shut)),
               "not_opened": sorted(t for t, r in rows.items() if r["solved_cap"] is not None and t not in opens),
               "open_on_look_away": sorted(t for t in rows if t not in shut)}
    table = Table(title=f"gate caps ({cfg.seeds} layouts per task; closed = {CLOSED:.2f})")
    for col in ("task", "expert solved", "cap when solved", "cap after look-away"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, r in rows.items():
        solved = "-" if r["solved_cap"] is None else f"{r['solved_cap']:.2f}"
        table.add_row(task, f"{r['experts_solved']}/{cfg.seeds}", solved, f"{r['look_away_cap']:.2f}")
    console = Console()
    console.print(table)
    console.print(summary)
    write_json(Path(cfg.out), {"config": asdict(cfg), "low": LOW, "high": HIGH, "pixel_step": PIXEL_STEP,
                               "summary": summary, "tasks": rows})
    return summary
