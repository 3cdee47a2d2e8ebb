"""The `sole` command line: one subcommand per job, each built by tyro from that job's config dataclass.

This is the top of the data path: it may join stages that do not know each other. `sole train sft` and
`sole train grpo` are run here with the evaluation protocol as their validation (`train_sft`, `train_grpo`), since
training comes before evaluation on the data path and does not import it.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import tyro
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sole.envs.tasks import TASKS

if TYPE_CHECKING:
    from pathlib import Path

    from sole.train.grpo import GRPOConfig
    from sole.train.sft import SFTConfig

console = Console()


@dataclass(frozen=True)
class TasksConfig:
    """List the 50 Meta-World tasks with fold and goals."""

    fold: str | None = None
    """Only tasks of this fold (a or b)."""
    procedural: int = 0
    """Instead, list this many generated tasks (``proc:0`` ... ``proc:<N-1>``): verb, objects, goals."""


def tasks_main(cfg: TasksConfig) -> list[str]:
    if cfg.procedural:
        from sole.envs.procedural import describe

        rows = [describe(seed) for seed in range(cfg.procedural)]
        table = Table(title="sole tasks --procedural (generated)")
        for col in rows[0]:
            table.add_column(col)
        for row in rows:
            table.add_row(*row.values())
        console.print(table)
        return [r["task"] for r in rows]
    if cfg.fold not in (None, "a", "b"):
        raise ValueError(f"unknown fold {cfg.fold!r}; valid folds: a, b")
    table = Table(title="sole tasks (Meta-World v3)")
    for col in ("task", "fold", "phases", "goals"):
        table.add_column(col)
    names = [n for n, s in TASKS.items() if cfg.fold in (None, s.fold)]
    for name in names:
        spec = TASKS[name]
        table.add_row(name, spec.fold, spec.phases, " | ".join(spec.goals))
    console.print(table)
    return names


SFT_THINK_EPISODES = 2
"""Validation episodes `sole train sft` also reads with reasoning on at each validation."""


def train_sft(cfg: SFTConfig) -> Path:
    """`sole train sft`, validated with the evaluation protocol on the goal wording training holds out."""
    from sole.eval.protocol import EvalSpec, Validation
    from sole.train import sft

    return sft.main(cfg, Validation(EvalSpec(goal_index=cfg.sample.held_out_goal), think_episodes=SFT_THINK_EPISODES))


def train_grpo(cfg: GRPOConfig) -> dict[str, Any]:
    """`sole train grpo`, compared before and after with the evaluation protocol on the held-out goal wording."""
    from sole.eval.protocol import EvalSpec, Validation
    from sole.train import grpo

    return grpo.main(cfg, Validation(EvalSpec(goal_index=cfg.sample.held_out_goal), think_episodes=cfg.think_episodes))


COMMANDS: dict[str, tuple[str, str, str]] = {
    "tasks": ("sole.cli", "TasksConfig", "tasks_main"),
    "render": ("sole.envs.render", "RenderConfig", "main"),
    "check envs": ("sole.envs.check", "CheckConfig", "main"),
    "check procedural": ("sole.envs.procedural.check", "ProcCheckConfig", "main"),
    "check gate": ("sole.eval.gate", "GateCheckConfig", "main"),
    "bench envs": ("sole.envs.bench", "BenchConfig", "main"),
    "synth": ("sole.data.build", "SynthConfig", "main"),
    "bench synth": ("sole.data.bench", "BenchConfig", "main"),
    "data stats": ("sole.data.stats", "StatsConfig", "main"),
    "train sft": ("sole.train.sft", "SFTConfig", "sole.cli:train_sft"),
    "train grpo": ("sole.train.grpo", "GRPOConfig", "sole.cli:train_grpo"),
    "train export": ("sole.train.records", "ExportConfig", "main"),
    "train vlm": ("sole.train.vlm", "VLMConfig", "main"),
    "score": ("sole.models.score", "ScoreConfig", "main"),
    "annotate": ("sole.annotation", "AnnotateConfig", "main"),
    "bench score": ("sole.models.bench", "BenchConfig", "main"),
    "eval reward": ("sole.eval.reward", "EvalRewardConfig", "main"),
    "eval compare": ("sole.eval.compare", "EvalCompareConfig", "main"),
    "rl": ("sole.rl.sac", "SACConfig", "main"),
    "rl sweep": ("sole.rl.sweep", "SweepConfig", "main"),
    "benchmark rl": ("sole.rl.benchmark", "BenchmarkConfig", "main"),
    "rl replay": ("sole.rl.replay", "ReplayConfig", "main"),
    "rl drqv2": ("sole.rl.drqv2", "DrQConfig", "main"),
    "rl mine": ("sole.rl.mine", "MineConfig", "main"),
    "bench rl": ("sole.rl.bench", "BenchConfig", "main"),
    "serve": ("sole.serve.app", "ServeConfig", "main"),
    "bench serve": ("sole.serve.bench", "BenchConfig", "main"),
    "demo": ("sole.demo", "DemoConfig", "main"),
}
"""Subcommand -> (module, config dataclass, main function: its name in that module, or ``module:name``); modules
load lazily so each command imports only what it uses."""


def _lookup(argv: list[str]) -> tuple[str, int]:
    for n_words in (2, 1):
        name = " ".join(argv[:n_words])
        if len(argv) >= n_words and name in COMMANDS:
            return name, n_words
    return "", 0


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    name, n_words = _lookup(argv)
    if not name:
        console.print("usage: sole COMMAND [--help]\ncommands:\n  " + "\n  ".join(COMMANDS))
        raise SystemExit(0 if not argv or argv[0] in ("-h", "--help") else 2)
    module, config_name, fn = COMMANDS[name]
    fn_module, _, fn_name = fn.rpartition(":")
    cfg = tyro.cli(getattr(importlib.import_module(module), config_name), args=argv[n_words:], prog=f"sole {name}")
    try:
        getattr(importlib.import_module(fn_module or module), fn_name)(cfg)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        # one line on stderr, so stdout keeps only what the command prints (the JSON of --json)
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True)
        raise SystemExit(2) from None
