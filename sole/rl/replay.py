"""Replay trained policies under other rewards: how would each reward model have read what these policies learned?

A policy that exploited one reward is a test case for every other: `sole rl replay --runs runs/rl-r3/push-sole-s0
runs/rl-bp-100k/button-press-oracle-dense-s0 --models held-out checked:held-out` rolls each run's final policy,
deterministically, on the layouts a fresh evaluation env of that run draws (seeds s + 10000, as its first
evaluation did), and reads every episode with each reward. The policy ignores the reward, so every reward reads the
very same episodes. Per run and reward it reports the final true progress and success (the simulator's, evaluation
channel only), the reward's final progress, the mean reward over the episode and the hacking rate (the reward says
>= 0.8 where the simulator says failure).

Every run folder is read and every reward loaded (once per task) before anything is written. Written to
``--out``: one ``<run name>.json`` per run (a rerun skips runs already read with the same rewards and episodes),
``replay.json`` with all of them, and ``replay.png``, the reward's final progress against the true final progress
per run, one panel per reward: a reward that tracks the task puts the points on the diagonal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.envs.tasks import TaskSpec, get_task
from sole.models.registry import wrap_spec
from sole.reward.rewarder import Reward, RewardConfig, resolve_reward
from sole.reward.wrappers import make_vec_env
from sole.rl import runs

console = Console()
Row = dict[str, float]


@dataclass(frozen=True)
class ReplayConfig:
    runs: tuple[str, ...]
    """Run folders of `sole rl` (config.json and policy.zip, or the last checkpoint while one trains)."""
    models: tuple[str, ...] = ("held-out",)
    """Reward specs of the ``sole`` source to read the episodes with (see `sole.models.registry`)."""
    episodes: int = 10
    """Episodes to roll per run (its evaluation layout seeds)."""
    out: str = "runs/replay"
    """Folder for the per-run JSON, replay.json and replay.png."""


def load_rewards(models: tuple[str, ...], tasks: set[str]) -> dict[tuple[str, str], Reward]:
    """(spec, task) -> that reward, each reasoner loaded once; progress unscaled, so the mean reward is a
    progress."""
    return {(spec, name): resolve_reward(RewardConfig(source="sole", model=spec, scale=1.0), get_task(name))
            for spec in models for name in sorted(tasks)}


def replay_run(train: dict[str, Any], policy: Any, rewards: dict[str, Reward], episodes: int) -> dict[str, Row]:
    """Per reward spec: the metrics of ``episodes`` episodes of a run's final policy; ``train`` is the run's saved
    config."""
    task: TaskSpec = get_task(train["task"])
    table = {}
    for spec, reward in rewards.items():
        venv = make_vec_env(task, reward, episodes, train["seed"] + runs.EVAL_SEED_OFFSET, train["size"],
                            horizon=train["horizon"])
        try:
            records = runs.run_episodes(policy, venv, episodes)
        finally:
            venv.close()
        table[spec] = {
            "success": float(np.mean([r.success for r in records])),
            "true_progress": float(np.mean([r.true_progress for r in records])),
            "reward_progress": float(np.mean([r.reward_progress for r in records])),
            "mean_reward": float(np.mean([r.ret / max(r.length, 1) for r in records])),
            "hacking_rate": float(np.mean([r.hacked for r in records])),
        }
    return table


def cached(run: Path, cfg: ReplayConfig, out: Path) -> dict[str, Row] | None:
    """A run's table from an earlier replay with the same rewards and episodes, if there is one."""
    path = out / f"{run.name}.json"
    if path.exists():
        done = json.loads(path.read_text())
        if done["episodes"] == cfg.episodes and list(done["rewards"]) == list(cfg.models):
            return done["rewards"]
    return None


def plot_replay(results: dict[str, dict[str, Row]], models: tuple[str, ...], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.2), squeeze=False)
    for ax, spec in zip(axes[0], models, strict=True):
        rows = [table[spec] for table in results.values()]
        true, read = [r["true_progress"] for r in rows], [r["reward_progress"] for r in rows]
        ax.scatter(true, read, c=[r["success"] for r in rows], cmap="viridis", vmin=0, vmax=1, edgecolors="k")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.axhspan(0.8, 1.05, color="red", alpha=0.06)
        ax.set(xlim=(-0.05, 1.05), ylim=(-0.05, 1.05), xlabel="true final progress", title=wrap_spec(spec, 40),
               ylabel="reward's final progress")
    fig.suptitle(f"{len(results)} policies, each read by every reward (colour: success rate)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(cfg: ReplayConfig) -> Path:
    if cfg.episodes < 1 or not cfg.models or not cfg.runs:
        raise ValueError("replay needs at least one run, one reward model and one episode")
    loaded = {Path(run): runs.load_policy(run, unfinished=True) for run in cfg.runs}
    rewards = load_rewards(cfg.models, {train["task"] for train, _ in loaded.values()})
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {}
    for run, (train, policy) in loaded.items():
        table = cached(run, cfg, out)
        if table is None:
            table = replay_run(train, policy, {spec: rewards[spec, train["task"]] for spec in cfg.models},
                               cfg.episodes)
            (out / f"{run.name}.json").write_text(json.dumps({"run": str(run), "episodes": cfg.episodes,
                                                              "rewards": table}, indent=2))
        results[run.name] = table
    (out / "replay.json").write_text(json.dumps({"episodes": cfg.episodes, "runs": results}, indent=2))
    plot_replay(results, cfg.models, out / "replay.png")
    view = Table(title=f"sole rl replay: {len(results)} runs x {cfg.episodes} episodes; per reward its final "
                       "progress / hacking rate")
    for col in ("run", "success", "true progress", *cfg.models):
        view.add_column(col, justify="left" if col == "run" else "right", overflow="fold")
    for name, table in results.items():
        first = table[cfg.models[0]]
        view.add_row(name, f"{first['success']:.1f}", f"{first['true_progress']:.2f}",
                     *(f"{table[m]['reward_progress']:.2f} / {table[m]['hacking_rate']:.1f}" for m in cfg.models))
    console.print(view)
    console.print(f"wrote {out / 'replay.json'} and {out / 'replay.png'}")
    return out
