"""The `sole` command line: one subcommand per job, each built by tyro from that job's config dataclass."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import tyro
from rich.console import Console
from rich.table import Table

from sole.envs.tasks import TASKS

console = Console()


@dataclass(frozen=True)
class TasksConfig:
    """List the 50 Meta-World tasks with fold and goals."""

    fold: str | None = None
    """Only tasks of this fold (a or b)."""


def tasks_main(cfg: TasksConfig) -> list[str]:
    table = Table(title="sole tasks (Meta-World v3)")
    for col in ("task", "fold", "phases", "goals"):
        table.add_column(col)
    names = [n for n, s in TASKS.items() if cfg.fold in (None, s.fold)]
    for name in names:
        spec = TASKS[name]
        table.add_row(name, spec.fold, spec.phases, " | ".join(spec.goals))
    console.print(table)
    return names


def _commands() -> dict[str, tuple[type, Callable]]:
    """Subcommand -> (config class, main). Imports are local so `sole tasks` does not import torch."""
    from sole.envs.render import RenderConfig
    from sole.envs.render import main as render_main

    return {
        "tasks": (TasksConfig, tasks_main),
        "render": (RenderConfig, render_main),
    }


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if not argv or argv[0] not in commands:
        console.print(f"usage: sole {{{','.join(commands)}}} [--help]")
        raise SystemExit(0 if not argv or argv[0] in ("-h", "--help") else 2)
    config_cls, fn = commands[argv[0]]
    try:
        cfg = tyro.cli(config_cls, args=argv[1:], prog=f"sole {argv[0]}")
        fn(cfg)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise SystemExit(2) from None
