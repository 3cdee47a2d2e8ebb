"""`sole bench serve`: a bounded loopback load test of `sole serve`'s ``/v1/score``.

Starts `sole serve` with its default limits in a subprocess on a free local port (or reads a server already
running, ``--url``); then ``clients`` clients at once each send ``requests`` scores one after the other, each of a
``frames``-frame video of random pixels. Prints the throughput, the p50/p99 latency and how many answers had each
status (no request is retried), and writes them as JSON with the config and the machine's CPU count.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from sole.video import write_mp4

console = Console()


@dataclass(frozen=True)
class BenchConfig:
    """Load `sole serve` with concurrent /v1/score clients and report throughput, latency and status counts."""

    clients: int = 32
    """Clients sending at once."""
    requests: int = 20
    """Requests each client sends, one after the other."""
    frames: int = 10
    """Frames of the video each request scores (64 x 64 random pixels, external view)."""
    think: bool = True
    """Ask for the reasoning (the slower path)."""
    model: str = "compact"
    """Reasoner the started server serves."""
    url: str | None = None
    """Read this running server (e.g. http://127.0.0.1:8000) instead of starting one."""
    timeout_s: float = 300.0
    """A request unanswered this long counts as an error."""
    out: str = "out/bench/serve.json"
    """Where the figures go (JSON)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, timeout_s: float = 180.0) -> tuple[subprocess.Popen, str]:
    """`sole serve --model MODEL` in a subprocess on a free port, once its /health answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "from sole.cli import main; main()", "serve", "--model", model,
                             "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"sole serve --model {model} did not start within {timeout_s:.0f} s")


def video_b64(frames: int) -> str:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_mp4(Path(tmp) / "v.mp4", rng.integers(0, 256, (frames, 64, 64, 3), dtype=np.uint8), fps=10)
        return base64.b64encode(path.read_bytes()).decode()


async def load(url: str, body: dict[str, Any], cfg: BenchConfig) -> list[tuple[str, float]]:
    """(status, seconds) of every request, ``cfg.clients`` clients at once."""
    results: list[tuple[str, float]] = []
    limits = httpx.Limits(max_connections=cfg.clients, max_keepalive_connections=cfg.clients)
    async with httpx.AsyncClient(base_url=url, timeout=cfg.timeout_s, limits=limits) as client:

        async def one_client() -> None:
            for _ in range(cfg.requests):
                t0 = time.perf_counter()
                try:
                    status = str((await client.post("/v1/score", json=body)).status_code)
                except httpx.HTTPError as err:
                    status = f"error: {type(err).__name__}"
                results.append((status, time.perf_counter() - t0))

        await client.post("/v1/score", json=body)  # warm-up, not counted
        await asyncio.gather(*(one_client() for _ in range(cfg.clients)))
    return results


def summary(results: list[tuple[str, float]], wall_s: float) -> dict[str, Any]:
    latency = np.array([s for _, s in results])
    statuses = [status for status, _ in results]
    ok = statuses.count("200")
    return {"requests": len(results), "wall_s": round(wall_s, 2), "ok_per_s": round(ok / wall_s, 2),
            "p50_s": round(float(np.percentile(latency, 50)), 3), "p99_s": round(float(np.percentile(latency, 99)), 3),
            "status": {s: statuses.count(s) for s in sorted(set(statuses))},
            "share_429": round(statuses.count("429") / len(results), 4),
            "share_5xx": round(sum(s.startswith("5") for s in statuses) / len(results), 4)}


def main(cfg: BenchConfig) -> dict[str, Any]:
    if cfg.clients < 1 or cfg.requests < 1 or cfg.frames < 2:
        raise ValueError(f"clients and requests must be >= 1 and frames >= 2, got {cfg.clients}, {cfg.requests}, "
                         f"{cfg.frames}")
    proc, url = (None, cfg.url) if cfg.url else start_server(cfg.model)
    try:
        body = {"goal": "close the window", "video": video_b64(cfg.frames), "think": cfg.think}
        t0 = time.perf_counter()
        results = asyncio.run(load(url, body, cfg))
        figures = summary(results, time.perf_counter() - t0)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    report = {"config": asdict(cfg), "machine": {"cpus": os.cpu_count(), "platform": platform.platform()}, **figures}
    out = Path(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    table = Table(title=f"sole serve /v1/score: {cfg.clients} clients x {cfg.requests} requests, {cfg.frames} frames, "
                        f"think={cfg.think}")
    for col in ("requests", "ok/s", "p50 s", "p99 s", "status"):
        table.add_column(col)
    table.add_row(str(figures["requests"]), f"{figures['ok_per_s']:.1f}", f"{figures['p50_s']:.2f}",
                  f"{figures['p99_s']:.2f}", ", ".join(f"{s}: {n}" for s, n in figures["status"].items()))
    console.print(table)
    console.print(f"figures: {out}")
    return report
