"""`sole bench rl`: wall time per agent step of the RL loop, split into physics, rendering, reward and update.

One run times the same agent steps twice: with the reward off (physics only, as state SAC with a free reward
would run) and on (physics + rendering the views the reward reads + the batched reward query). The SAC update
is timed separately, per learner (``--algos sb3-sac sbx-sac ...``), on a filled replay buffer and charged per agent
step at ``train_freq``; ``--loop-steps N`` also times each learner's whole training loop end to end (agent steps per
second). The goal: the reward adds <= 25% to physics + rendering.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from sole.envs.tasks import TaskSpec, get_task
from sole.models.base import Reasoner
from sole.reward.rewarder import Reward, RewardConfig, Rewarder, resolve_reward
from sole.reward.wrappers import make_agent_env, make_vec_env

console = Console()
T = TypeVar("T")


@dataclass(frozen=True)
class BenchConfig:
    task: str = "window-close"
    """Meta-World task."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """The reward to time (``--reward.source``, ``--reward.model``; ``--reward.think`` times the reasoning text of
    videos instead of the progress head of training)."""
    steps: int = 200
    """Agent steps timed per mode."""
    n_envs: int = 1
    """Envs stepped together (the reward is one batched query for all)."""
    updates: int = 100
    """Gradient steps timed per learner (0: no learner is timed)."""
    algos: tuple[str, ...] = ("sb3-sac",)
    """Learners timed (`sole.rl.algos`); the first is charged per agent step in the table."""
    loop_steps: int = 0
    """Agent steps of each learner's whole training loop timed end to end (0: not timed)."""
    batch_size: int = 256
    """Minibatch."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layers of actor and critics."""
    train_freq: int = 2
    """Agent steps per update, to charge the update per agent step."""
    size: int = 64
    """Render size in pixels."""
    threads: int = 1
    """Torch CPU threads."""
    out: str = "runs/bench/rl.json"
    """Where the results JSON is written."""


class Timer:
    """Accumulates wall time per named part."""

    def __init__(self):
        self.total: dict[str, float] = defaultdict(float)

    def time(self, part: str, fn: Callable[..., T], *args: Any) -> T:
        t0 = time.perf_counter()
        out = fn(*args)
        self.total[part] += time.perf_counter() - t0
        return out


def time_env_steps(cfg: BenchConfig, reward: Reward) -> dict[str, float]:
    """Milliseconds per agent step of physics (2 simulator steps), rendering and the reward query."""
    envs = [make_agent_env(cfg.task, seed=k, size=cfg.size) for k in range(cfg.n_envs)]
    rewarder = Rewarder(reward, len(envs))
    timer, rng = Timer(), np.random.default_rng(0)

    def render(env: gym.Env) -> dict[str, np.ndarray]:
        return env.unwrapped.render_views(rewarder.views)

    try:
        for i, env in enumerate(envs):
            env.reset(seed=i)
            rewarder.reset(i, render(env))
        rewarder.step([render(e) for e in envs], [_state(e, reward) for e in envs])  # warm-up (lazy set-up)
        for _ in range(cfg.steps):
            for i, env in enumerate(envs):
                _, _, term, trunc, _ = timer.time("physics", env.step, rng.uniform(-1, 1, 4))
                if term or trunc:
                    env.reset()
                    rewarder.reset(i, render(env))
            frames = [timer.time("render", render, e) for e in envs]
            timer.time("reward", rewarder.step, frames, [_state(e, reward) for e in envs])
    finally:
        for env in envs:
            env.close()
    n = cfg.steps * cfg.n_envs
    return {part: 1000 * timer.total[part] / n for part in ("physics", "render", "reward")}


def _state(env: gym.Env, reward: Reward) -> Any:
    return env.unwrapped.privileged() if reward.privileged else None  # the oracles' reading of the simulator


def time_learner(cfg: BenchConfig, task: TaskSpec, reward: Reward, algo: str) -> dict[str, float]:
    """One learner on ``task`` with ``reward``: ms per gradient step (on its own replay buffer), and end-to-end
    agent steps per second of the training loop (env, reward, an update every ``train_freq``) over ``loop_steps``
    after a warm-up that fills the buffer and compiles the JAX learners."""
    from stable_baselines3.common.logger import configure

    from sole.rl.sac import SACConfig, new_model

    venv = make_vec_env(task, reward, n_envs=cfg.n_envs, size=cfg.size, truth=False)
    try:
        model = new_model(SACConfig(algo=algo, steps=10_000, learning_starts=cfg.batch_size, batch_size=cfg.batch_size,
                                    hidden=cfg.hidden, train_freq=cfg.train_freq, seed=0), venv)
        model.set_logger(configure(None, []))
        model.learn(2 * cfg.batch_size + 10 * cfg.train_freq)  # fills the buffer; first updates (JIT compiles)
        t0 = time.perf_counter()
        model.learn(cfg.loop_steps, reset_num_timesteps=False)
        loop = time.perf_counter() - t0
        # one gradient step per call, as the loop makes them (sbx compiles one function per gradient_steps value)
        t0 = time.perf_counter()
        for _ in range(cfg.updates):
            model.train(gradient_steps=1, batch_size=cfg.batch_size)
        update = 1000 * (time.perf_counter() - t0) / cfg.updates
    finally:
        venv.close()
    return {"ms_per_update": update, "loop_steps_per_s": cfg.loop_steps / loop if cfg.loop_steps else 0.0}


def learner_table(learners: dict[str, dict[str, float]], cfg: BenchConfig) -> Table:
    table = Table(title=f"learners: batch {cfg.batch_size}, hidden {list(cfg.hidden)}, reward {cfg.reward.label()}")
    table.add_column("learner")
    table.add_column("ms per update", justify="right")
    table.add_column(f"loop agent steps/s ({cfg.loop_steps} steps)", justify="right")
    for algo, res in learners.items():
        table.add_row(algo, f"{res['ms_per_update']:.2f}", f"{res['loop_steps_per_s']:.1f}")
    return table


def main(cfg: BenchConfig, reasoner: Reasoner | None = None) -> dict[str, float]:
    """Time both modes and the update; print a table, write ``out`` and return the figures (ms per agent step)."""
    torch.set_num_threads(cfg.threads)
    task = get_task(cfg.task)
    off = time_env_steps(cfg, resolve_reward(replace(cfg.reward, source="zero"), task))
    reward = resolve_reward(cfg.reward, task, reasoner)
    on = time_env_steps(cfg, reward)
    learners = {algo: time_learner(cfg, task, reward, algo) for algo in cfg.algos} if cfg.updates else {}
    update = learners[cfg.algos[0]]["ms_per_update"] if learners else 0.0
    per_step_update = update / cfg.train_freq
    base = on["physics"] + on["render"]
    result = {
        "off/physics_ms": off["physics"], "off/total_ms": off["physics"] + per_step_update,
        "on/physics_ms": on["physics"], "on/render_ms": on["render"], "on/reward_ms": on["reward"],
        "on/total_ms": base + on["reward"] + per_step_update,
        "update/ms_per_update": update, "update/ms_per_agent_step": per_step_update,
        "reward_overhead_vs_step_render": on["reward"] / base if base else 0.0,
        "load_avg_1min": os.getloadavg()[0],
    } | {f"{algo}/{k}": v for algo, res in learners.items() for k, v in res.items()}
    table = Table(title=f"sole bench rl: {cfg.task}, reward {cfg.reward.label()}, {cfg.n_envs} env(s), "
                        f"{'thinking' if cfg.reward.think else 'progress head'}")
    table.add_column("part (ms per agent step)")
    table.add_column("reward off", justify="right")
    table.add_column("reward on", justify="right")
    rows = [("physics (2 sim steps)", off["physics"], on["physics"]), ("rendering", 0.0, on["render"]),
            ("reward query", 0.0, on["reward"]), (f"update / {cfg.train_freq}", per_step_update, per_step_update),
            ("total", result["off/total_ms"], result["on/total_ms"])]
    for name, a, b in rows:
        table.add_row(name, f"{a:.2f}", f"{b:.2f}")
    console.print(table)
    if learners:
        console.print(learner_table(learners, cfg))
    console.print(f"reward adds {100 * result['reward_overhead_vs_step_render']:.0f}% to physics + rendering "
                  f"(goal <= 25%); load average {result['load_avg_1min']:.1f}")
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.out).write_text(json.dumps({"config": asdict(cfg), "result": result}, indent=2))
    return result
