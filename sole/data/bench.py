"""`sole bench synth`: synthesis throughput against bare rendering, and scaling from 1 to 2 workers.

*Bare render* steps the env with random actions and renders both views at the protocol's rate (one frame per
2 env steps): the least work that yields such a video. *Synthesis* is the real thing in the same process, on
the same tasks: the kinds of the default mix (policies, privileged labels and facts, counterfactual labels),
then the shard write (parquet, two mp4s, the compressed frame cache, the manifest). The ratio of their
frames/s is what the pipeline costs on top of rendering. Worker scaling runs `sole synth` itself with 1 and
2 workers on a small config.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.data import build
from sole.envs.tasks import resolve_tasks
from sole.synth.rollouts import ENV_STEPS, FRAME_EVERY, KINDS

console = Console()


@dataclass(frozen=True)
class BenchConfig:
    """Measure synthesis frames/s vs bare render frames/s, and 1 vs 2 workers."""

    tasks: str = "reach,drawer-close,pick-place,window-open"
    """Tasks to measure on."""
    episodes: int = 4
    """Episodes per task for each measurement."""
    size: int = 64
    """Render size of each view."""
    env_steps: int = ENV_STEPS
    """Env steps per episode (the protocol's 200); fewer only for quick tests."""
    workers: tuple[int, ...] = (1, 2)
    """Worker counts for the scaling measurement (empty: skip it)."""
    scaling_episodes: int = 8
    """Episodes per task for the scaling measurement (more amortise the pool's start-up, which is included)."""
    out: str = "out/bench_synth.json"
    """Where the results go (JSON)."""


def bare_render(task: str, episodes: int, size: int, steps: int = ENV_STEPS) -> tuple[int, float]:
    """(frames, seconds) of random-action rollouts rendering both views every ``FRAME_EVERY`` env steps."""
    from sole.envs.sim import make_env

    env = make_env(task, size=size)
    rng = np.random.default_rng(0)
    frames, start = 0, time.perf_counter()
    for ep in range(episodes):
        env.reset(seed=ep)
        env.render_views()
        for i in range(steps):
            env.step(rng.uniform(-1, 1, 4))
            if (i + 1) % FRAME_EVERY == 0:
                env.render_views()
        frames += steps // FRAME_EVERY + 1
    seconds = time.perf_counter() - start
    env.close()
    return frames, seconds


def synth(task: str, episodes: int, size: int, root: Path, steps: int = ENV_STEPS) -> tuple[int, float]:
    """(frames, seconds) of synthesizing and writing one shard of ``episodes`` (kinds in registry order)."""
    kinds = list(KINDS)
    job = build.Job("bench", 0, task, size, steps,
                       tuple((i, kinds[i % len(kinds)], 10_000 + i) for i in range(episodes)))
    start = time.perf_counter()
    build.run_job(str(root), job)
    return episodes * (steps // FRAME_EVERY + 1), time.perf_counter() - start


def worker_scaling(cfg: BenchConfig, tmp: Path) -> dict[int, float]:
    """Episodes/s of `sole synth` per worker count (shards of 2 episodes so both workers stay busy)."""
    rates = {}
    half = cfg.scaling_episodes // 2
    mix = f"expert={half},noisy={cfg.scaling_episodes - half}"
    base = build.SynthConfig(tasks=cfg.tasks, mix=mix, eval_per_kind=0,
                                shard_size=2, size=cfg.size, env_steps=cfg.env_steps)
    for w in cfg.workers:
        start = time.perf_counter()
        result = build.main(replace(base, out=str(tmp / f"workers-{w}"), workers=w))
        rates[w] = result["train"]["episodes"] / (time.perf_counter() - start)
    return rates


def main(cfg: BenchConfig) -> dict[str, Any]:
    tasks = resolve_tasks(cfg.tasks)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in tasks:
            bare_frames, bare_s = bare_render(task, cfg.episodes, cfg.size, cfg.env_steps)
            syn_frames, syn_s = synth(task, cfg.episodes, cfg.size, Path(tmp) / task, cfg.env_steps)
            rows.append({"task": task, "bare_fps": bare_frames / bare_s, "synth_fps": syn_frames / syn_s})
        scaling = worker_scaling(cfg, Path(tmp)) if cfg.workers else {}
    bare = float(np.mean([r["bare_fps"] for r in rows]))
    syn = float(np.mean([r["synth_fps"] for r in rows]))
    result = {
        "config": asdict(cfg),
        "per_task": rows,
        "bench/bare_render_fps": round(bare, 1), "bench/synth_fps": round(syn, 1),
        "bench/synth_over_bare": round(syn / bare, 3),
        "bench/episodes_per_s_by_workers": {str(w): round(r, 3) for w, r in scaling.items()},
    }
    if len(scaling) > 1:
        w0, w1 = min(scaling), max(scaling)
        result["bench/worker_speedup"] = round(scaling[w1] / scaling[w0], 2)
    table = Table(title="sole bench synth (frames = both views, one per agent step)")
    for col in ("task", "bare render frames/s", "synthesis frames/s", "ratio"):
        table.add_column(col)
    for r in rows:
        ratio = r["synth_fps"] / r["bare_fps"]
        table.add_row(r["task"], f"{r['bare_fps']:.1f}", f"{r['synth_fps']:.1f}", f"{ratio:.2f}")
    table.add_row("mean", f"{bare:.1f}", f"{syn:.1f}", f"{syn / bare:.2f}")
    console.print(table)
    if scaling:
        console.print(f"episodes/s by workers: {result['bench/episodes_per_s_by_workers']}")
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.out).write_text(json.dumps(result, indent=2) + "\n")
    return result
