"""`sole rl sweep`: many (task, reward, seed) SAC runs in parallel processes, then one comparison.

Each job is a plain `sole rl` run (its own run folder, resumable); a finished run is not trained again. The sweep
writes comparison.json, a rich table (final success, hacking rate, reward / oracle success ratio per task) and
curves.png (evaluation success vs agent steps, mean over seeds, one panel per task, a line per reward).
"""

from __future__ import annotations

import json
import multiprocessing as mp
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from sole.envs.tasks import resolve_tasks
from sole.rl.sac import SACConfig, read_metrics

console = Console()


@dataclass(frozen=True)
class SweepConfig:
    tasks: str = "window-close,drawer-close"
    """Comma-separated tasks (or fold-a / fold-b / all)."""
    rewards: tuple[str, ...] = ("oracle-dense", "sole")
    """Reward sources to compare; the first is the reference for the ratio column. ``sole=<spec>`` names the
    reasoner (e.g. ``sole=compact``, the default model); plain ``sole`` is the fold model that never saw the task."""
    seeds: tuple[int, ...] = (0,)
    """Seeds per (task, reward)."""
    steps: int = 30_000
    """Agent steps per run."""
    eval_every: int = 5_000
    """Agent steps between evaluations."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    train_freq: int = 2
    """Agent steps between SAC updates."""
    videos: int = 1
    """Annotated final-policy videos per run."""
    workers: int = 2
    """Parallel processes (one CPU core each)."""
    out: str = "runs/sweep"
    """Folder of the run folders and the comparison."""

    def jobs(self) -> list[SACConfig]:
        base = SACConfig(steps=self.steps, eval_every=self.eval_every, eval_episodes=self.eval_episodes,
                         train_freq=self.train_freq, videos=self.videos, out=self.out, progress=False)
        sources = [r.partition("=")[::2] for r in self.rewards]  # (source, reasoner spec or "")
        return [replace(base, task=t, reward=source, model=model, seed=s)
                for t in resolve_tasks(self.tasks) for source, model in sources for s in self.seeds]


def run_job(cfg: SACConfig) -> str:
    """One SAC run in a worker process (skipped when its result already covers the steps)."""
    from sole.rl.sac import main

    result = cfg.run_dir() / "result.json"
    if result.exists() and json.loads(result.read_text())["steps"] >= cfg.steps:
        return str(cfg.run_dir())
    return str(main(cfg))


def run_all(jobs: list[SACConfig], workers: int) -> list[str]:
    """Run jobs in ``workers`` spawned processes; a failed job is reported, the others go on."""
    done = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                done.append(fut.result())
                console.print(f"done {job.run_dir()}")
            except Exception as err:  # noqa: BLE001 - one broken run must not stop the sweep
                console.print(f"[red]failed[/red] {job.run_dir()}: {err!r}")
    return done


def collect(jobs: list[SACConfig]) -> dict[str, dict[str, dict]]:
    """task -> reward -> {steps, success curve (mean over seeds), final success and hacking rate per seed}."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    groups: dict[tuple[str, str], list[SACConfig]] = defaultdict(list)
    for job in jobs:
        groups[(job.task, job.reward_label())].append(job)
    for (task, reward), runs in groups.items():
        curves = [read_metrics(r.run_dir(), "eval/success") for r in runs]
        curves = [c for c in curves if c]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        out[task][reward] = {
            "steps": [c["step"] for c in curves[0][:n]],
            "success_curve": np.mean([[row["eval/success"] for row in c[:n]] for c in curves], axis=0).tolist(),
            "ever_success_curve": np.mean([[row["eval/ever_success"] for row in c[:n]] for c in curves],
                                          axis=0).tolist(),
            "final_success": [c[-1]["eval/success"] for c in curves],
            "final_ever_success": [c[-1]["eval/ever_success"] for c in curves],
            "final_hacking": [c[-1]["eval/hacking_rate"] for c in curves],
            "final_step": [c[-1]["step"] for c in curves],
        }
    return dict(out)


def plot_curves(table: dict[str, dict[str, dict]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(table)
    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), dpi=110, squeeze=False)
    for ax, task in zip(axes.flat, tasks, strict=False):
        for reward, res in table[task].items():
            line, = ax.plot(res["steps"], res["success_curve"], marker="o", ms=3, label=f"{reward} (last step)")
            ax.plot(res["steps"], res["ever_success_curve"], ls="--", color=line.get_color(), label=f"{reward} (any)")
        ax.set(title=task, ylim=(-0.05, 1.05), xlabel="agent steps", ylabel="success")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def print_table(table: dict[str, dict[str, dict]], rewards: tuple[str, ...]) -> None:
    t = Table(title="sole rl sweep: final evaluation (mean over seeds); success at the last step / at any step")
    t.add_column("task")
    for r in rewards:
        t.add_column(f"{r} success", justify="right")
        t.add_column(f"{r} ever", justify="right")
        t.add_column(f"{r} hacking", justify="right")
    t.add_column(f"ratio to {rewards[0]}", justify="right")
    for task, res in table.items():
        means = {r: float(np.mean(res[r]["final_success"])) for r in rewards if r in res}
        cells = []
        for r in rewards:
            cells += [f"{means[r]:.2f}", f"{np.mean(res[r]['final_ever_success']):.2f}",
                      f"{np.mean(res[r]['final_hacking']):.2f}"] if r in res else ["-"] * 3
        ref = means.get(rewards[0], 0.0)
        ratio = " ".join(f"{means[r] / ref:.2f}" for r in rewards[1:] if r in means) if ref > 0 else "-"
        t.add_row(task, *cells, ratio)
    console.print(t)


def main(cfg: SweepConfig) -> Path:
    """Run the sweep and write comparison.json and curves.png under ``out``; returns the comparison path."""
    jobs = cfg.jobs()
    for job in jobs:
        job.validate()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(asdict(cfg), indent=2))
    run_all(jobs, cfg.workers)
    table = collect(jobs)
    path = out / "comparison.json"
    path.write_text(json.dumps(table, indent=2))
    if table:
        plot_curves(table, out / "curves.png")
        print_table(table, cfg.rewards)
    return path


if __name__ == "__main__":
    import tyro

    main(tyro.cli(SweepConfig))
