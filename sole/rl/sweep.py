"""`sole rl sweep`: many (task, reward, seed) SAC runs in parallel processes, then one comparison.

Each job is a plain `sole rl` run (its own run folder, resumable); a run whose result has the job's config hash
and covers its steps is not trained again (`sole.rl.runs.finished`). Every job's task and reward are checked, its
reasoner loaded once, before anything is written. The sweep writes comparison.json, a rich table (final success,
hacking rate, reward / oracle success ratio per task) and curves.png (evaluation success vs agent steps, mean over
seeds, one panel per task, a line per reward). Rewards are compared at equal steps: a task's "final" figures are
read at the last evaluation step that every one of its runs shares, so runs stopped early (e.g. under a time limit,
collected with ``--no-run``) or evaluated on different schedules are still compared fairly.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.live import Live
from rich.table import Table

from sole.envs.tasks import get_task, resolve_tasks
from sole.models.registry import wrap_spec
from sole.reward.rewarder import SOURCES, resolve_reward
from sole.rl import runs
from sole.rl.sac import SACConfig

console = Console()


@dataclass(frozen=True)
class SweepConfig:
    tasks: str = "window-close,drawer-close"
    """Comma-separated tasks (or fold-a / fold-b / all)."""
    rewards: tuple[str, ...] = ("oracle-dense", "sole")
    """Reward sources to compare; the first is the reference for the ratio column. ``sole=<spec>`` names the
    reasoner (e.g. ``sole=compact``, the default model); plain ``sole`` is the fold model that never saw the task;
    a name that is no source is a reasoner spec (``held-out`` = ``sole=held-out``); ``@k`` queries it every k agent
    steps (``held-out@5``)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds per (task, reward)."""
    steps: int = 30_000
    """Agent steps per run."""
    eval_every: int = 5_000
    """Agent steps between evaluations."""
    eval_episodes: int = 10
    """Episodes per evaluation."""
    train_freq: int = 2
    """Agent steps between updates."""
    algo: str = "sb3-sac"
    """Learner (`sole.rl.algos`): sb3-sac, sbx-sac, sbx-tqc or sbx-crossq."""
    batch_size: int = 256
    """Learner minibatch."""
    checkpoint_every: int = 10_000
    """Agent steps between a run's checkpoints: a killed sweep loses at most this much of each running run."""
    videos: int = 1
    """Annotated final-policy videos per run."""
    workers: int = 2
    """Parallel processes (one CPU core each)."""
    ray_address: str = ""
    """Run the jobs on this Ray cluster (``auto``, ``ray://host:10001``; the ``ray`` extra) instead of local
    processes; one CPU per job."""
    out: str = "runs/sweep"
    """Folder of the run folders and the comparison."""
    run: bool = True
    """Train the jobs whose result is missing; ``--no-run`` only compares the run folders already under ``out``."""

    def jobs(self) -> list[SACConfig]:
        base = SACConfig(steps=self.steps, eval_every=self.eval_every, eval_episodes=self.eval_episodes,
                         train_freq=self.train_freq, algo=self.algo, batch_size=self.batch_size,
                         checkpoint_every=self.checkpoint_every, videos=self.videos, out=self.out, progress=False)
        sources = [reward_source(r) for r in self.rewards]
        return [replace(base, task=t, reward=replace(base.reward, source=source, model=model, every=every), seed=s)
                for t in self.task_names() for source, model, every in sources for s in self.seed_list()]

    def task_names(self) -> tuple[str, ...]:
        return resolve_tasks(self.tasks)

    def seed_list(self) -> tuple[int, ...]:
        return self.seeds


def reward_source(name: str) -> tuple[str, str, int]:
    """(source, reasoner spec or "", query every k steps) of a ``--rewards`` entry: a source, ``source=spec`` or a
    bare reasoner spec, with ``@k`` to query every k agent steps (``held-out@5``)."""
    name, at, every = name.rpartition("@") if "@" in name else (name, "", "1")
    if not every.isdigit():
        raise ValueError(f"reward {name}{at}{every!r}: the query rate after @ must be a whole number of steps")
    source, _, model = name.partition("=")
    return (source, model, int(every)) if source in SOURCES else ("sole", name, int(every))


def run_job(cfg: SACConfig) -> str:
    """One SAC run in a worker process (skipped when its folder holds this config's result over its steps)."""
    from sole.rl.sac import main

    if runs.finished(cfg.run_dir(), cfg, cfg.steps):
        return str(cfg.run_dir())
    return str(main(cfg))


def check_rewards(jobs: list[SACConfig]) -> None:
    """Load each distinct (reward, task) of the jobs once: a bad reasoner spec fails before any write."""
    for reward, task in dict.fromkeys((job.reward, job.task) for job in jobs):
        resolve_reward(reward, get_task(task))


def run_all(jobs: list[SACConfig], workers: int, ray_address: str = "", progress: bool = True) -> list[str]:
    """Run the jobs whose result is missing in ``workers`` spawned processes (or on a Ray cluster), showing a live
    table of runs done, running and left; a failed job is reported, the others go on. Returns the finished runs."""
    todo = [job for job in jobs if not runs.finished(job.run_dir(), job, job.steps)]
    done = [str(job.run_dir()) for job in jobs if job not in todo]
    board = Board(jobs, todo)
    with _executor(workers, ray_address) as submit, Live(board.table(), console=console, refresh_per_second=0.5,
                                                          transient=False, auto_refresh=progress) as live:
        futures = {submit(job): job for job in todo}
        board.futures = futures
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=5.0, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = futures[fut]
                try:
                    done.append(fut.result())
                    console.print(f"done {job.run_dir()}")
                except Exception as err:  # noqa: BLE001 - one broken run must not stop the sweep
                    board.failed.append(job)
                    console.print(f"[red]failed[/red] {job.run_dir()}: {err!r}")
            if progress:
                live.update(board.table())
    return done


@contextmanager
def _executor(workers: int, ray_address: str) -> Iterator[Callable[[SACConfig], Future]]:
    """``submit(job) -> Future`` over local spawned processes, or over a Ray cluster when an address is given."""
    if not ray_address:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            yield lambda job: pool.submit(run_job, job)
        return
    try:
        import ray
    except ImportError as err:
        raise ImportError("--ray-address needs the `ray` extra (pip install 'sole[ray]')") from err
    ray.init(address=ray_address, ignore_reinit_error=True)
    remote = ray.remote(num_cpus=1)(run_job)
    yield lambda job: remote.remote(job).future()


class Board:
    """The live table of a sweep: runs done, running and left, the agent steps each has reached, and an estimate
    of the time left from the agent steps per second the sweep has made so far."""

    def __init__(self, jobs: list[SACConfig], todo: list[SACConfig]):
        self.jobs, self.todo = jobs, todo
        self.futures: dict[Future, SACConfig] = {}
        self.failed: list[SACConfig] = []
        self.start_steps = sum(self.steps(job) for job in todo)
        self.t0 = time.monotonic()

    @staticmethod
    def steps(job: SACConfig) -> int:
        return min(runs.last_step(job.run_dir()), job.steps)

    def table(self) -> Table:
        running = [job for fut, job in self.futures.items() if fut.running()]
        finished = [job for fut, job in self.futures.items() if fut.done()]
        reached = {job: self.steps(job) for job in self.todo}
        left = sum(job.steps - reached[job] for job in self.todo if job not in finished)
        rate = (sum(reached.values()) - self.start_steps) / max(time.monotonic() - self.t0, 1e-9)
        eta = f"{left / rate / 60:.0f} min" if rate > 0 and left else "-"
        t = Table(title=f"runs: {len(self.jobs) - len(self.todo) + len(finished) - len(self.failed)} done, "
                        f"{len(running)} running, {len(self.todo) - len(finished)} left, {len(self.failed)} failed; "
                        f"{rate:.0f} agent steps/s; about {eta} to go")
        for col in ("run", "agent steps"):
            t.add_column(col)
        for job in running:
            t.add_row(job.run_dir().name, f"{reached[job]}/{job.steps}")
        return t


def collect(jobs: list[SACConfig]) -> dict[str, dict[str, dict]]:
    """task -> reward -> {steps, success curves (mean over seeds), final success / hacking rate per seed}.

    Curves run over the evaluation steps all seeds of that reward share; the final figures (and ``last5_success``,
    a run's mean success over its last five evaluations up to that step) are read at ``compared_at``, the last
    evaluation step that every run of the task shares, so rewards meet at equal steps even when their runs evaluate
    on different schedules. A task whose runs share no step is left out.
    """
    out: dict[str, dict[str, dict]] = defaultdict(dict)
    groups: dict[str, dict[str, list[dict[int, dict[str, float]]]]] = defaultdict(lambda: defaultdict(list))
    for job in jobs:
        curve = runs.read_metrics(job.run_dir(), "eval/success")
        if curve:
            groups[job.task][job.reward.label()].append({int(row["step"]): row for row in curve})
    for task, rewards in groups.items():
        shared = _shared_steps([c for curves in rewards.values() for c in curves])
        if not shared:
            console.print(f"[yellow]{task}: its runs share no evaluation step, so it is not compared[/yellow]")
            continue
        for reward, curves in rewards.items():
            steps = _shared_steps(curves)
            final = [c[shared[-1]] for c in curves]
            out[task][reward] = {
                "steps": steps,
                "success_curve": _mean_curve(curves, "eval/success", steps),
                "ever_success_curve": _mean_curve(curves, "eval/ever_success", steps),
                "true_progress_curve": _mean_curve(curves, "eval/true_progress", steps),
                "reward_progress_curve": _mean_curve(curves, "eval/reward_progress", steps),
                "compared_at": shared[-1],
                "final_success": [row["eval/success"] for row in final],
                "last5_success": [float(np.mean([c[s]["eval/success"] for s in sorted(c) if s <= shared[-1]][-5:]))
                                  for c in curves],
                "final_ever_success": [row["eval/ever_success"] for row in final],
                "final_hacking": [row["eval/hacking_rate"] for row in final],
                "final_true_progress": [row["eval/true_progress"] for row in final],
                "final_reward_progress": [row["eval/reward_progress"] for row in final],
            }
    return dict(out)


def _shared_steps(curves: list[dict[int, dict[str, float]]]) -> list[int]:
    return sorted(set.intersection(*(set(c) for c in curves)))


def _mean_curve(curves: list[dict[int, dict[str, float]]], key: str, steps: list[int]) -> list[float]:
    return np.mean([[c[s][key] for s in steps] for c in curves], axis=0).tolist()


def plot_curves(table: dict[str, dict[str, dict]], path: Path) -> Path:
    """Per task, success (top) and the reward's own progress against the true progress (bottom): a reward that
    reads high while the true progress stays low is being exploited. Colours name the rewards, line styles the
    curves, in two legends below all panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    tasks = list(table)
    rewards = list(dict.fromkeys(r for res in table.values() for r in res))
    colors = dict(zip(rewards, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(max(3.4 * cols, 7.5), 4.4 * rows + 0.8), dpi=110,
                             squeeze=False, sharex="col")
    # curve -> (panel row: 0 success, 1 progress; line style; marker; legend label)
    styles = {"success_curve": (0, "-", "o", "success at the last step"),
              "ever_success_curve": (0, "--", "", "success at any step"),
              "true_progress_curve": (1, "-", "o", "true progress"),
              "reward_progress_curve": (1, ":", "", "the reward's progress")}
    for i, task in enumerate(tasks):
        panels = axes[2 * (i // cols):2 * (i // cols) + 2, i % cols]
        top, bottom = panels
        for reward, res in table[task].items():
            for key, (row, ls, marker, _) in styles.items():
                panels[row].plot(res["steps"], res[key], ls=ls, marker=marker, ms=3, color=colors[reward])
        top.set(title=task, ylim=(-0.05, 1.05), ylabel="success")
        bottom.set(ylim=(-0.05, 1.05), xlabel="agent steps", ylabel="progress (last step)")
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    for i in range(len(tasks), rows * cols):
        axes[2 * (i // cols), i % cols].axis("off")
        axes[2 * (i // cols) + 1, i % cols].axis("off")
    legend = {"fontsize": 7, "frameon": False}
    labels = {r: wrap_spec(r) for r in rewards}
    fig.legend(handles=[Line2D([], [], color=colors[r], label=labels[r]) for r in rewards], loc="lower left",
               **legend)
    fig.legend(handles=[Line2D([], [], color="grey", ls=ls, marker=m, ms=3, label=label)
                        for _, ls, m, label in styles.values()], loc="lower right", ncol=2, **legend)
    lines = sum(label.count("\n") + 1 for label in labels.values())
    fig.tight_layout(rect=(0, (0.03 * max(lines, 2) + 0.02) / rows, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def print_table(table: dict[str, dict[str, dict]], rewards: tuple[str, ...]) -> None:
    t = Table(title="sole rl sweep: final evaluation (mean over seeds); success at the last step / at any step")
    t.add_column("task")
    t.add_column("at step", justify="right")
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
        t.add_row(task, str(next(iter(res.values()))["compared_at"]), *cells, ratio)
    console.print(t)


def record(cfg: SweepConfig, out: Path) -> None:
    """Append this sweep's config to ``out/sweeps.jsonl``: a folder filled by several sweeps keeps every one."""
    with (out / "sweeps.jsonl").open("a") as f:
        f.write(json.dumps(asdict(cfg)) + "\n")


def main(cfg: SweepConfig) -> Path:
    """Run the sweep and write comparison.json and curves.png under ``out``; returns the comparison path."""
    jobs = cfg.jobs()
    for job in jobs:
        job.validate()
    if cfg.run:
        check_rewards(jobs)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.run:
        record(cfg, out)
        run_all(jobs, cfg.workers, cfg.ray_address)
    table = collect(jobs)
    path = out / "comparison.json"
    path.write_text(json.dumps(table, indent=2))
    if table:
        plot_curves(table, out / "curves.png")
        print_table(table, tuple(dict.fromkeys(job.reward.label() for job in jobs)))
    return path


if __name__ == "__main__":
    import tyro

    main(tyro.cli(SweepConfig))
