"""Replay a trained policy under other rewards: how would each reward model have read what this policy learned?

A policy that exploited one reward is a test case for every other: `sole rl replay --run
runs/rl-r3/push-sole-s0 --models held-out checked:held-out` rolls the run's final policy, deterministically, on
the layouts of the run's own evaluation, and reads every episode with each reward. The policy ignores the reward,
so each reward reads the very same episodes. Per reward it reports the final true progress and success (the
simulator's, evaluation channel only), the reward's final progress, the mean reward over the episode and the
hacking rate (the reward says >= 0.8 where the simulator says failure). A table is printed and JSON written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.reward.rewarder import RewardConfig
from sole.reward.wrappers import make_vec_env
from sole.rl.sac import EVAL_SEED_OFFSET, SACConfig, run_episodes

console = Console()


@dataclass(frozen=True)
class ReplayConfig:
    run: str
    """Run folder of `sole rl` (its config.json and policy.zip, or checkpoint/model.zip while it trains)."""
    models: tuple[str, ...] = ("held-out",)
    """Reward specs of the ``sole`` source to read the episodes with (see `sole.models.registry`)."""
    episodes: int = 10
    """Episodes to roll (the run's evaluation layouts)."""
    out: str = ""
    """JSON path; default ``<run>/replay.json``."""


def load_policy(run: Path):  # noqa: ANN201 (SB3's SAC, imported lazily)
    from stable_baselines3 import SAC

    for path in (run / "policy.zip", run / "checkpoint" / "model.zip"):
        if path.exists():
            return SAC.load(path, device="cpu")
    raise FileNotFoundError(f"{run} has no policy.zip or checkpoint/model.zip: not a `sole rl` run folder")


def replay(cfg: ReplayConfig) -> dict[str, dict[str, float]]:
    """Per reward spec: the rolled episodes' metrics."""
    run = Path(cfg.run)
    if not (run / "config.json").exists():
        raise FileNotFoundError(f"{run / 'config.json'} not found: not a `sole rl` run folder")
    if cfg.episodes < 1 or not cfg.models:
        raise ValueError("replay needs at least one episode and one reward model")
    known = SACConfig.__dataclass_fields__
    train = SACConfig(**{k: v for k, v in json.loads((run / "config.json").read_text()).items() if k in known})
    policy = load_policy(run)
    table = {}
    for spec in cfg.models:
        venv = make_vec_env(train.task, RewardConfig(source="sole", model=spec), cfg.episodes,
                            train.seed + EVAL_SEED_OFFSET, train.size, horizon=train.horizon)
        try:
            records = run_episodes(policy, venv, cfg.episodes)
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


def main(cfg: ReplayConfig) -> Path:
    table = replay(cfg)
    out = Path(cfg.out or Path(cfg.run) / "replay.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"run": cfg.run, "episodes": cfg.episodes, "rewards": table}, indent=2))
    view = Table(title=f"sole rl replay: {cfg.run} ({cfg.episodes} episodes)")
    columns = next(iter(table.values()))
    for col in ("reward", *columns):
        view.add_column(col, justify="left" if col == "reward" else "right")
    for spec, row in table.items():
        view.add_row(spec, *(f"{v:.2f}" for v in row.values()))
    console.print(view)
    console.print(f"wrote {out}")
    return out
