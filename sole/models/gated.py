"""Gated answers: a reasoner's progress capped unless the task's objects have visibly moved.

On tasks it never saw, the held-out reward pays poses of the arm: SAC found, on 9 of 11 held-out tasks, a pose
near or turned away from the untouched object that the model reads as 0.9 and more (docs/results.md). The reasoning
does not help there, since its stated facts about an unseen object are as wrong as its number (`sole.models.checked`).

`Gated` asks the pixels instead of the model. The ``scene`` view is the external camera with the robot left out
(`sole.envs.sim.SCENE`), so a pixel of it changes only where an object moved. If nothing in the scene differs from
the episode's first frame, nothing has been done to the task yet, and the answer is capped at the approach share
of progress (`sole.envs.progress.PHASE_WEIGHTS`, push tasks: 0.3); the cap opens linearly to 1 as the share of
changed scene pixels goes from `LOW` to `HIGH`. No model and nothing task-specific is involved: the thresholds were
read off scripted expert and look-away episodes of all 50 tasks, and `sole check gate` measures what they do (64 px
scene view; figures in docs/results.md):

- at the first solved frame of expert episodes (three layouts per task) the gate is fully open on 48 of 50 tasks;
  the two reach tasks move no object, so a gated reward caps them at the approach share by design;
- at the end of a look-away (arm raised away from the untouched object) it is shut on 36 of 50 tasks; on the other
  14 (box-close, door-close, drawer-close, hammer... and on some layouts coffee-button) objects settle or drift on
  their own after reset, the gate opens without the robot, and it does not protect them.

The gate tells whether something moved, not whether the right thing moved far enough the right way. Measured in
RL (docs/results.md), SAC then nudges an object, which opens the gate, and holds a pose the model over-reads; it
is a spec to try, not the default reward.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from sole.data.store import write_json
from sole.envs.progress import PHASE_WEIGHTS, SOLVED_FLOOR
from sole.envs.sim import SCENE, make_env
from sole.envs.tasks import resolve_tasks
from sole.models.base import Query, Reasoner, Step

CLOSED = 1.0 - PHASE_WEIGHTS["push"]["move"]
"""The cap while nothing in the scene moved: the approach share of a push task."""
LOW, HIGH = 0.001, 0.002
"""Share of changed scene pixels at which the cap starts to open, and at which it is fully open."""
PIXEL_STEP = 12
"""A pixel counts as changed when one of its channels differs by more than this (of 255) from the first frame."""


def scene_change(first: np.ndarray, current: np.ndarray) -> float:
    """Share of the scene's pixels that differ from the first frame."""
    diff = np.abs(current.astype(np.int16) - first.astype(np.int16)).max(axis=-1)
    return float((diff > PIXEL_STEP).mean())


def cap(change: float) -> float:
    """The most progress a scene change of ``change`` allows."""
    return CLOSED + (1.0 - CLOSED) * float(np.clip((change - LOW) / (HIGH - LOW), 0.0, 1.0))


class Gated:
    """A `Reasoner` whose answers are capped by how much of the ``scene`` view changed since the first frame."""

    def __init__(self, inner: Reasoner):
        self.inner = inner
        self.views = tuple(dict.fromkeys((*inner.views, SCENE)))

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        steps = self.inner.judge(queries, think=think)
        return [replace(step, progress=min(step.progress, cap(scene_change(q.first[SCENE], q.current[SCENE]))))
                for q, step in zip(queries, steps, strict=True)]


# --- `sole check gate`: what the gate does to solved episodes and to untouched scenes ---------------------------
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
    from sole.synth.rollouts import rollout

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


def check_main(cfg: GateCheckConfig) -> dict[str, Any]:
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
