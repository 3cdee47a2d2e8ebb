"""`sole benchmark rl`: whole task suites under the published protocol, every reward beside the published numbers.

A benchmark is a `sole rl sweep` over a suite's tasks (`sole.rl.suites`), with its job running, hash-checked
skipping of finished runs and live table: each run is a resumable run folder, so a killed benchmark reruns with the
same command and loses at most one checkpoint interval per running run. Then, per task and reward, success at the
final evaluation (mean and 95% t-interval over seeds) and over the last five evaluations, and the hacking rate
(evaluation episodes ending with reward progress >= 0.8 while the simulator says failure); per reward the suite
means over the tasks every reward reached, and the ratio to the oracle-dense reward; the published suite means with
their protocols. Written under ``out``: the run folders, comparison.json and curves.png (the sweep's),
benchmark.json (this summary).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tyro
from rich.console import Console
from rich.table import Table
from scipy import stats

from sole.rl import sweep
from sole.rl.suites import SUITES, published_for, resolve_suite

console = Console()
REFERENCE = "oracle-dense"
"""The reward each other reward's suite mean is divided by (the first reward when it is not run)."""


@dataclass(frozen=True)
class BenchmarkConfig(sweep.SweepConfig):
    """A sweep over a suite, with a seed count and the benchmark's defaults."""

    suite: str = "rewind8"
    """A suite (rewind8: ReWiND's eight; sole17: SOLE-R1's seventeen; all50) or a comma-separated task list."""
    tasks: tyro.conf.Suppress[str] = ""
    rewards: tuple[str, ...] = ("held-out", "oracle-dense")
    """Rewards: a source (oracle-dense, oracle-sparse, zero, sole) or a reasoner spec (held-out, sole=SPEC); the
    suite means are divided by oracle-dense's."""
    seeds: int = 3  # type: ignore[assignment]  # a count here, the seeds 0 .. seeds-1
    """Seeds per (task, reward): 0 .. seeds-1."""
    steps: int = 100_000
    """Agent steps per run (100 per episode, action repeat 2)."""
    videos: int = 0
    """Annotated final-policy videos per run."""
    workers: int = 1
    """Parallel processes on this machine (one core each)."""
    out: str = "runs/benchmark"
    """Folder of the run folders, the comparison and the summary."""
    algo: str = "sbx-sac"
    """Learner (`sole.rl.algos`): sbx's JAX SAC by default, the published baseline's algorithm at about twice SB3's
    end-to-end speed here (the ``fast`` extra); sb3-sac needs no extra."""

    def task_names(self) -> tuple[str, ...]:
        return resolve_suite(self.suite)

    def seed_list(self) -> tuple[int, ...]:
        if self.seeds < 1:
            raise ValueError(f"seeds ({self.seeds}) must be >= 1")
        return tuple(range(self.seeds))


def interval(values: list[float]) -> dict[str, Any]:
    """Mean and the 95% t-interval of the mean over seeds (no interval from one seed)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "ci95": None, "n": len(x)}
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(x)}


def summarize(table: dict[str, dict[str, dict]], rewards: list[str]) -> dict[str, Any]:
    """Per task and reward the final / last-five success and hacking; per reward the means over the tasks every
    reward reached, and their ratio to the reference reward."""
    reference = REFERENCE if REFERENCE in rewards else rewards[0]
    tasks = {task: {r: {"compared_at": res["compared_at"], "final_success": interval(res["final_success"]),
                        "last5_success": interval(res["last5_success"]), "hacking": interval(res["final_hacking"])}
                    for r, res in by_reward.items()} for task, by_reward in table.items()}
    complete = [t for t, by_reward in tasks.items() if set(rewards) <= set(by_reward)]
    means = {r: {key: float(np.mean([tasks[t][r][key]["mean"] for t in complete])) if complete else None
                 for key in ("final_success", "last5_success", "hacking")} for r in rewards}
    ref = means[reference]["final_success"]
    for r in rewards:
        means[r]["ratio_to_reference"] = means[r]["final_success"] / ref if ref else None
    return {"reference": reference, "tasks": tasks, "suite_tasks": complete, "suite_means": means}


def protocol_note(cfg: BenchmarkConfig, summary: dict[str, Any]) -> str:
    steps = sorted({res["compared_at"] for by_reward in summary["tasks"].values() for res in by_reward.values()})
    return (f"ours: state observations (39-d), {cfg.algo}, batch {cfg.batch_size}, one update per {cfg.train_freq} "
            f"agent steps, 100 agent steps x action repeat 2 per episode, fresh layouts every episode, "
            f"{cfg.seeds} seed(s), {cfg.eval_episodes} evaluation episodes, success at the last step, read at agent "
            f"step(s) {steps} of {cfg.steps}; over {len(summary['suite_tasks'])} of "
            f"{len(resolve_suite(cfg.suite))} tasks. Published figures: each row's protocol (SOLE-R1 and ReWiND "
            f"learn from pixels).")


def print_summary(cfg: BenchmarkConfig, summary: dict[str, Any], labels: list[str]) -> None:
    t = Table(title=f"sole benchmark rl: {cfg.suite}; success at the final evaluation [95% interval] / mean of the "
                    "last five / hacking rate")
    t.add_column("task")
    for r in labels:
        t.add_column(r, justify="right")
    for task, by_reward in summary["tasks"].items():
        t.add_row(task, *(_cell(by_reward[r]) if r in by_reward else "-" for r in labels))
    means = summary["suite_means"]
    t.add_row("[b]suite mean[/b]", *(f"{_pct(means[r]['final_success'])} / {_pct(means[r]['last5_success'])} / "
                                     f"{_pct(means[r]['hacking'])}" for r in labels))
    t.add_row(f"[b]ratio to {summary['reference']}[/b]", *(_pct(means[r]["ratio_to_reference"]) for r in labels))
    console.print(t)
    if summary["published"]:
        p = Table(title="published suite means (protocols differ: see each row)")
        for col in ("method", "success", "at steps", "protocol", "source"):
            p.add_column(col)
        for row in summary["published"]:
            p.add_row(row["method"], _pct(row["success"]), str(row["steps"]), row["protocol"], row["source"])
        console.print(p)
    console.print(summary["protocol"])


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _cell(res: dict[str, Any]) -> str:
    final, ci = res["final_success"], res["final_success"]["ci95"]
    band = f" [{_pct(max(ci[0], 0.0))}, {_pct(min(ci[1], 1.0))}]" if ci else ""
    return f"{_pct(final['mean'])}{band} / {_pct(res['last5_success']['mean'])} / {_pct(res['hacking']['mean'])}"


def main(cfg: BenchmarkConfig) -> Path:
    """Run (or resume) the suite and write benchmark.json beside the sweep's comparison; returns its path."""
    table = json.loads(sweep.main(cfg).read_text())
    labels = list(dict.fromkeys(job.reward.label() for job in cfg.jobs()))
    summary = summarize(table, labels)
    summary["published"] = [asdict(p) for p in published_for(cfg.suite)] if cfg.suite in SUITES else []
    summary["protocol"] = protocol_note(cfg, summary)
    summary["config"] = asdict(cfg)
    path = Path(cfg.out) / "benchmark.json"
    path.write_text(json.dumps(summary, indent=2))
    print_summary(cfg, summary, labels)
    return path
