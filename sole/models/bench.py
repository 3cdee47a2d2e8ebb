"""`sole bench score`: throughput and latency of a reasoner on this machine.

- batched: queries/s of `judge(think=False)` over a large batch (one query = one timestep with every view);
- streaming: per-step latency of a single query, as a reward model in an RL loop sees it, without and with
  reasoning (the completion is decoded token by token).

Frames are random: speed does not depend on content, except that reasoning over unfamiliar pixels may write
longer completions (so thinking latency is, if anything, overstated). The load average is recorded, since other
processes on a shared machine slow every figure.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.models.base import Query, Reasoner
from sole.models.compact import CompactReasoner
from sole.models.registry import load_reasoner

console = Console()


@dataclass(frozen=True)
class BenchConfig:
    model: str = "compact"
    """Reasoner spec (see `sole score --help`)."""
    batch: int = 1024
    """Queries in the batched measurement."""
    steps: int = 100
    """Streaming steps measured per mode."""
    threads: int = 1
    """Torch CPU threads while judging. On a small machine shared with other jobs one thread is usually faster
    than two (docs/results.md)."""
    size: int = 64
    """Frame size."""
    out: str = "runs/bench-score.json"
    """Where the results JSON is written."""


def random_queries(n: int, views: tuple[str, ...], size: int, seed: int = 0) -> list[Query]:
    rng = np.random.default_rng(seed)

    def frames() -> dict[str, np.ndarray]:
        return {v: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for v in views}

    return [Query("close the window", frames(), frames(), frames(), float(rng.uniform(0, 1))) for _ in range(n)]


def streaming_ms(reasoner: Reasoner, queries: list[Query], think: bool) -> dict[str, float]:
    reasoner.judge(queries[:1], think=think)  # warm-up
    times, words = [], []
    for q in queries:
        t0 = time.perf_counter()
        step = reasoner.judge([q], think=think)[0]
        times.append(1000 * (time.perf_counter() - t0))
        words.append(len(step.text.split()))
    return {"median_ms": float(np.median(times)), "p95_ms": float(np.percentile(times, 95)),
            "mean_words": float(np.mean(words))}


def main(cfg: BenchConfig) -> dict[str, Any]:
    reasoner = load_reasoner(cfg.model)
    if isinstance(reasoner, CompactReasoner):
        reasoner.threads = cfg.threads
    queries = random_queries(cfg.batch, reasoner.views, cfg.size)
    reasoner.judge(queries[:64], think=False)  # warm-up
    t0 = time.perf_counter()
    reasoner.judge(queries, think=False)
    batched = cfg.batch / (time.perf_counter() - t0)
    result = {"config": asdict(cfg), "batched_queries_per_s": batched,
              "stream_no_think": streaming_ms(reasoner, queries[: cfg.steps], think=False),
              "stream_think": streaming_ms(reasoner, queries[: cfg.steps], think=True),
              "machine": {"cpus": os.cpu_count(), "torch_threads": cfg.threads,
                          "load_avg_1m": os.getloadavg()[0]}}
    table = Table(title=f"sole bench score ({cfg.model}, {cfg.threads} threads, load {os.getloadavg()[0]:.1f})")
    for col in ("measure", "value"):
        table.add_column(col)
    table.add_row("batched, no thinking", f"{batched:.0f} queries/s ({len(reasoner.views)} views each)")
    for mode in ("stream_no_think", "stream_think"):
        r = result[mode]
        table.add_row(f"streaming step, {mode[7:].replace('_', '-')}",
                      f"median {r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, {r['mean_words']:.0f} words")
    console.print(table)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.out).write_text(json.dumps(result, indent=2))
    return result
