"""`sole check procedural`: generate N tasks and run `sole check envs`'s expert, random and undo checks on each.

Per seed ``proc:<first>`` ... ``proc:<first + tasks - 1>``: the generator's accepted world and rejected attempts,
then, for ``seeds`` layouts of the accepted task, the same rollouts and label measures as the Meta-World check
(`sole.envs.check.check_seed`). The table reports, per verb, the expert's success and the label checks against the
same targets; then the rejections by reason and the throughput.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.progress import Progress
from rich.table import Table

from sole.envs.check import TARGETS, check_seed, console, finite_mean, machine, meets, write_json

EXPERT_TARGET = 0.9
"""Share of a verb's task layouts its expert must solve."""
COLUMNS = {"success": "expert", "start": "start", "at_success": "p@succ", "spearman": "rho",
           "random_final": "random", "undo_drop": "undo drop", "gate_errors": "gate err"}
"""Metric -> table header."""


@dataclass(frozen=True)
class ProcCheckConfig:
    tasks: int = 20
    """Generated tasks to check: seeds ``first`` .. ``first + tasks - 1``."""
    first: int = 0
    """First generator seed."""
    seeds: int = 3
    """Layouts (env seeds) per task."""
    workers: int = 2
    """Worker processes (spawned); 1 runs in this process."""
    out: str = "out/proc-check"
    """Folder for ``report.json`` and ``rows.jsonl`` (one line per checked seed, written as each finishes: a rerun
    into the same folder skips the seeds already there, so a stopped run resumes)."""
    agent_steps: int = 100
    """Agent steps per episode (the RL protocol: 100)."""
    action_repeat: int = 2
    """Env steps per agent step (the RL protocol: 2)."""

    def validate(self) -> None:
        if min(self.tasks, self.seeds, self.workers, self.action_repeat) < 1 or self.first < 0:
            raise ValueError(f"tasks, seeds, workers and action_repeat must be >= 1 and first >= 0; got {self}")


def check_one(seed: int, seeds: int, agent_steps: int, repeat: int) -> dict[str, object]:
    """Generate ``proc:<seed>`` and check ``seeds`` of its layouts; its verb, rejections, metrics and timings."""
    from sole.envs.procedural.generate import generate

    os.environ.setdefault("LP_NUM_THREADS", "1")
    t0 = time.perf_counter()
    gen = generate(seed)
    row: dict[str, object] = {"seed": seed, "rejected": [r for _, r in gen.rejected],
                              "generate_s": time.perf_counter() - t0}
    if gen.world is None:
        return row
    t1 = time.perf_counter()
    runs = [check_seed(f"proc:{seed}", s, agent_steps, repeat) for s in range(seeds)]
    row.update(verb=gen.world.verb, check_s=time.perf_counter() - t1,
               metrics={k: [r[k] for r in runs] for k in runs[0]})
    return row


def _job(args: tuple[int, int, int, int]) -> dict[str, object]:
    return check_one(*args)


def per_verb(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per verb: the mean of each metric over its task layouts (gate errors summed), and the task count."""
    out: dict[str, dict[str, float]] = {}
    for verb in sorted({r["verb"] for r in rows if "verb" in r}):
        runs = [r["metrics"] for r in rows if r.get("verb") == verb]
        out[verb] = {k: finite_mean([v for m in runs for v in m[k]]) for k in COLUMNS}
        out[verb]["gate_errors"] = float(sum(v for m in runs for v in m["gate_errors"]))
        out[verb]["tasks"] = float(len(runs))
    return out


def passes(m: dict[str, float]) -> dict[str, bool]:
    """Which targets a verb's means meet (the label targets of `sole check envs` and the expert's 90%)."""
    ok = {"success": m["success"] >= EXPERT_TARGET, "gate_errors": m["gate_errors"] == 0}
    return ok | {key: meets(key, m[key]) for key in TARGETS}


def summarize(rows: list[dict], wall: float, fresh: int, cfg: ProcCheckConfig) -> dict[str, object]:
    """Per-verb means and targets, rejections, and throughput (``fresh`` of the rows were checked in ``wall`` s;
    the rest were read back from an earlier run)."""
    verbs = per_verb(rows)
    checked = [r for r in rows if "verb" in r]
    layouts = len(checked) * cfg.seeds
    return {
        "verbs": verbs,
        "pass": {v: passes(m) for v, m in verbs.items()},
        "all": {k: finite_mean([v for r in checked for v in r["metrics"][k]]) for k in COLUMNS},
        "rejections": dict(Counter(reason for r in rows for reason in r["rejected"]).most_common()),
        "failed_seeds": [r["seed"] for r in rows if "verb" not in r],
        "tasks_generated": len(checked),
        "workers": cfg.workers,
        "throughput": {
            "wall_s": wall, "tasks_this_run": fresh, "tasks_per_s": fresh / wall,
            "generate_s_per_task": float(np.mean([r["generate_s"] for r in rows])),
            "check_s_per_layout": float(sum(r["check_s"] for r in checked) / max(layouts, 1)),
            "env_steps_per_s": layouts * 3 * cfg.agent_steps * cfg.action_repeat / max(
                sum(r["check_s"] for r in checked), 1e-9),
        },
    }


def print_report(summary: dict) -> None:
    table = Table(title="sole check procedural (per verb: means over task layouts)")
    for header in ("verb", "tasks", *COLUMNS.values()):
        table.add_column(header, justify="right" if header != "verb" else "left")
    for verb, m in summary["verbs"].items():
        ok = summary["pass"][verb]
        cells = [f"{m[k]:.2f}" if k != "gate_errors" else f"{int(m[k])}" for k in COLUMNS]
        marked = (c if ok[k] else f"[red]{c}" for k, c in zip(COLUMNS, cells, strict=True))
        table.add_row(verb, f"{int(m['tasks'])}", *marked)
    table.add_row("[bold]all", f"{summary['tasks_generated']}",
                  *(f"[bold]{summary['all'][k]:.2f}" for k in COLUMNS))
    console.print(table)
    console.print(f"rejected attempts by reason: {summary['rejections']}")
    console.print(f"seeds with no sound task: {summary['failed_seeds']}")
    t = summary["throughput"]
    console.print(f"throughput: {t['tasks_per_s']:.3f} tasks/s end to end ({t['tasks_this_run']} tasks in "
                  f"{t['wall_s']:.0f} s, {summary['workers']} workers); generation "
                  f"{t['generate_s_per_task']:.1f} s/task; checks {t['check_s_per_layout']:.2f} s per layout, "
                  f"~{t['env_steps_per_s']:.0f} env steps/s per worker (expert + random + undo, undo counted as 200)")


def _protocol(cfg: ProcCheckConfig) -> list[int]:
    """What a row's figures depend on besides its seed: rows of another protocol are not reused."""
    return [cfg.seeds, cfg.agent_steps, cfg.action_repeat]


def _done_rows(path: Path, cfg: ProcCheckConfig) -> dict[int, dict]:
    """Rows of an earlier run of the same protocol in ``path`` (seed -> row)."""
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    same = [r for r in rows if r.get("protocol") == _protocol(cfg)]
    return {r["seed"]: r for r in same}


def main(cfg: ProcCheckConfig) -> dict[str, object]:
    cfg.validate()
    log = Path(cfg.out) / "rows.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    seeds = range(cfg.first, cfg.first + cfg.tasks)
    done = _done_rows(log, cfg)
    rows: list[dict] = [done[s] for s in seeds if s in done]
    jobs = [(s, cfg.seeds, cfg.agent_steps, cfg.action_repeat) for s in seeds if s not in done]
    start = time.perf_counter()
    workers = mp.get_context("spawn").Pool(cfg.workers) if cfg.workers > 1 else nullcontext()
    with Progress(console=console) as bar, log.open("a") as out, workers as pool:
        track = bar.add_task("generating and checking", total=len(jobs))
        for row in pool.imap_unordered(_job, jobs) if pool else map(_job, jobs):
            row["protocol"] = _protocol(cfg)
            out.write(json.dumps(row) + "\n")
            out.flush()
            rows.append(row)
            bar.advance(track)
    rows.sort(key=lambda r: r["seed"])  # type: ignore[arg-type, return-value]
    summary = summarize(rows, time.perf_counter() - start, len(jobs), cfg)
    print_report(summary)
    report = {"config": asdict(cfg), "machine": machine(), "summary": summary, "tasks": rows}
    console.print(f"wrote {write_json(os.path.join(cfg.out, 'report.json'), report)}")
    return report
