"""`sole bench envs`: simulator throughput, bare physics and physics + rendering both views, per process count.

Each measurement runs in fresh spawned worker processes (``LP_NUM_THREADS=1`` each, so software GL uses one core
per process) that step one env with random actions; throughput is the total steps of all workers over the wall
time of the slowest. On a shared machine wall-clock figures depend on the other load (recorded as the load
average), so each row also gives steps per CPU-second of one process: what one free core does.
"physics" is one ``env.step``; "render NN" is one ``env.step`` plus both views at NN px.
Under the RL protocol (action repeat 2, views rendered once per agent step) an agent step costs two physics steps
and one render, so agent steps/s lie between the two figures.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from sole.envs.check import machine, write_json
from sole.envs.sim import EnvConfig

console = Console()


@dataclass(frozen=True)
class BenchConfig:
    task: str = "pick-place"
    """Task to step."""
    sizes: tuple[int, ...] = (64, 96, 128)
    """Render sizes (px) of both views."""
    workers: tuple[int, ...] = (1, 2)
    """Process counts to measure."""
    steps: int = 300
    """Env steps per worker per measurement (after a short warm-up)."""
    external: str = "workspace"
    """External camera."""
    wrist: str = "gripperPOV"
    """Wrist camera."""
    out: str = "out/bench_envs.json"
    """Where the results are written."""

    def validate(self) -> None:
        for size in self.sizes:
            EnvConfig(task=self.task, size=size, external=self.external, wrist=self.wrist).validate()
        if self.steps < 1 or not self.workers or min(self.workers) < 1:
            raise ValueError(f"steps and workers must be >= 1; got steps={self.steps}, workers={self.workers}")


def _measure(job: tuple[BenchConfig, int | None, int]) -> tuple[float, float]:
    """In a worker: (wall seconds, CPU seconds of this process) for ``steps`` env steps, rendering both views at
    ``size`` unless None."""
    os.environ["LP_NUM_THREADS"] = "1"
    from sole.envs.sim import make_env

    cfg, size, seed = job
    env = make_env(cfg.task, size=size or 64, seed=seed, external=cfg.external, wrist=cfg.wrist)
    rng = np.random.default_rng(seed)
    try:
        env.reset()
        for _ in range(10):  # warm-up: renderer creation, caches
            env.step(rng.uniform(-1, 1, 4))
            if size:
                env.render_views()
        start, cpu = time.perf_counter(), time.process_time()
        for k in range(cfg.steps):
            if k and k % 400 == 0:  # Meta-World stops an episode after 500 env steps
                env.reset()
            env.step(rng.uniform(-1, 1, 4))
            if size:
                env.render_views()
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        env.close()


def measure(cfg: BenchConfig, size: int | None, workers: int) -> tuple[float, float]:
    """Total env steps per wall second of ``workers`` processes, and steps per CPU second of one process (what one
    free core would do; robust to other load on a shared machine)."""
    with mp.get_context("spawn").Pool(workers) as pool:
        results = pool.map(_measure, [(cfg, size, seed) for seed in range(workers)])
    wall = workers * cfg.steps / max(w for w, _ in results)
    return wall, cfg.steps / float(np.mean([c for _, c in results]))


def main(cfg: BenchConfig) -> dict[str, object]:
    cfg.validate()
    load = os.getloadavg()[0]  # other work on the machine slows every figure; it is recorded with them
    modes: list[tuple[str, int | None]] = [("physics", None)] + [(f"render {s}", s) for s in cfg.sizes]
    rows: dict[str, dict[str, float]] = {}
    with Progress(console=console) as bar:
        track = bar.add_task("benchmarking", total=len(modes) * len(cfg.workers))
        for name, size in modes:
            rows[name] = {}
            for w in cfg.workers:
                rows[name][f"{w} proc"], rows[name][f"{w} proc per CPU-s"] = measure(cfg, size, w)
                bar.advance(track)
    table = Table(title=f"sole bench envs: {cfg.task}, env steps/s (views: {cfg.external} + {cfg.wrist})")
    table.add_column("mode")
    for key in rows[modes[0][0]]:
        table.add_column(key, justify="right")
    for name, by_workers in rows.items():
        table.add_row(name, *(f"{v:.0f}" for v in by_workers.values()))
    console.print(table)
    console.print(f"load average (1 min) before the run: {load:.2f} on {os.cpu_count()} CPUs")
    report = {"config": asdict(cfg), "machine": machine(), "load_before": load, "steps_per_s": rows}
    console.print(f"wrote {write_json(cfg.out, report)}")
    return report

