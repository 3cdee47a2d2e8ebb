"""`sole demo`: score fresh videos of held-out tasks with reasoning, and write an HTML report.

For each task it rolls out an expert, a failure and a reward-hacking look-alike (the gripper hovering at the goal
without the object) on layouts drawn from seeds that synthesis never uses for training, then asks the shipped
reasoners to read them step by step:

- the **held-out** model: the shipped model that never saw the task in training (``held-out-a`` for a task of
  fold a, ``held-out-b`` for fold b: the honest zero-shot number);
- the **default** model: trained on all 50 tasks (what `sole score` uses).

The report shows each video with both models' progress (the fast progress head: the value an RL agent gets as
its reward), the true progress label, and the held-out model's written reasoning at every step (which ends on its
own answer).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from sole.envs.sim import make_env
from sole.envs.tasks import get_task, resolve_tasks
from sole.eval.report import Section, write_report
from sole.models.base import Clip, Reasoner, reason
from sole.models.registry import spec_for_task
from sole.synth.rollouts import ENV_STEPS, check_kinds, rollout
from sole.viz import annotated_frames, write_video


@dataclass(frozen=True)
class DemoConfig:
    tasks: str = "window-close,door-lock,button-press-wall,drawer-open"
    """Tasks to show (two of each fold by default)."""
    kinds: str = "expert,failure,hover"
    """Rollout kinds to show per task."""
    held_out_model: str = "held-out"
    """``held-out``: for each task the shipped model that never saw it; otherwise a reasoner spec or checkpoint
    path."""
    default_model: str = "compact"
    """The default reasoner, trained on all tasks."""
    seed: int = 900_000
    """Layout seed; far from the seeds used to synthesize training data."""
    out: str = "out/demo"
    """Output folder for the report, videos and scores.json."""
    env_steps: int = ENV_STEPS
    """Env steps per episode (the RL protocol's 200); fewer only for quick checks."""


def _reasoner(spec: str, cache: dict) -> Reasoner:
    from sole.models.registry import load_reasoner

    if spec not in cache:
        cache[spec] = load_reasoner(spec)
    return cache[spec]


def _progress(spec: str, clip: Clip, goal: str, cache: dict) -> np.ndarray:
    """Per-frame progress from the fast head: the value an RL agent gets as reward."""
    return reason(_reasoner(spec, cache), [clip], [goal], think=False)[0].per_frame


def _reasoning(spec: str, clip: Clip, goal: str, cache: dict) -> list[str]:
    """The written reasoning at every frame (empty at frame 0, which is never queried)."""
    judged = reason(_reasoner(spec, cache), [clip], [goal], think=True)[0]
    return [""] + [step.text for _, step in judged.steps]


def run_episode(task: str, kind: str, cfg: DemoConfig, models: dict, out: Path) -> dict:
    env = make_env(task, seed=cfg.seed)
    try:
        ep = rollout(env, kind, seed=cfg.seed, steps=cfg.env_steps)
    finally:
        env.close()
    goal = get_task(task).goals[0]
    clip = Clip(ep.frames)
    held_spec = spec_for_task(cfg.held_out_model, task)
    held, texts = _progress(held_spec, clip, goal, models), _reasoning(held_spec, clip, goal, models)
    default = _progress(cfg.default_model, clip, goal, models)
    true = ep.label(task)
    video = annotated_frames(ep.frames, {"true": true, "held-out model": held, "default model": default},
                             texts=texts, title=f"{task} / {kind}: '{goal}'")
    path = write_video(out / "videos" / f"{task}_{kind}.mp4", video)
    return {"task": task, "kind": kind, "goal": goal, "true_final": float(true[-1]),
            "held_out_final": float(held[-1]), "default_final": float(default[-1]),
            "held_out_model": held_spec, "video": str(path.relative_to(out)), "reasoning_last": texts[-1]}


def main(cfg: DemoConfig) -> Path:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    kinds = check_kinds(cfg.kinds.split(","))
    jobs = [(t, k) for t in resolve_tasks(cfg.tasks) for k in kinds]
    models: dict = {}
    rows = [run_episode(t, k, cfg, models, out) for t, k in track(jobs, description="rolling out and scoring")]
    (out / "scores.json").write_text(json.dumps({"config": asdict(cfg), "episodes": rows}, indent=1))
    table = Table(title="final progress: true vs reasoners")
    for col in ("task", "kind", "true", "held-out", "default"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["task"], r["kind"], *(f"{r[k]:.2f}" for k in ("true_final", "held_out_final",
                                                                      "default_final")))
    Console().print(table)
    summary = [{k: r[k] for k in ("task", "kind", "true_final", "held_out_final", "default_final")} for r in rows]
    page = write_report(out / "report.html", "sole demo: reading held-out tasks", [
        Section("Final progress", text="held-out = the shipped model that never saw the task; default = trained on all "
                "50 tasks; true = the simulator's progress label (never shown to the models).", table=summary),
        Section("Videos", videos=[(r["video"], f"{r['task']} / {r['kind']}: {r['reasoning_last']}") for r in rows]),
    ], intro="Each video is read step by step from pixels and the goal text alone.")
    Console().print(f"report: {page}")
    return page
