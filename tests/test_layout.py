"""The one-way layout: every import of a module under sole/ points down the data path.

Stages, in order: envs -> synth -> data -> models -> train -> reward -> rl -> eval. A module of a stage may import
its own stage, earlier stages and the helpers at the bottom (sole/video.py, sole/viz.py, which import only each
other); nothing under a stage imports the top (sole/cli.py, sole/demo.py, sole/annotation.py, sole/serve/, the
`sole` package itself), which may import anything. Imports are read with ast: module level and inside functions,
and the ``importlib.import_module("sole....")`` calls with a literal name.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SOLE = Path(__file__).resolve().parents[1] / "sole"
STAGES = ("envs", "synth", "data", "models", "train", "reward", "rl", "eval")
BOTTOM = ("video", "viz")
TOP = ("cli", "demo", "annotation", "serve", "__init__")

def place(parts: tuple[str, ...]) -> str:
    """A module's place from its dotted parts under sole (``("synth", "rollouts")`` -> ``synth``)."""
    if not parts:
        return "__init__"
    return parts[0]


def _module_parts(name: str) -> tuple[str, ...] | None:
    """``sole.x.y`` -> ``("x", "y")``; None for a module outside sole."""
    head, _, rest = name.partition(".")
    if head != "sole":
        return None
    return tuple(rest.split(".")) if rest else ()


def _is_module(parts: tuple[str, ...]) -> bool:
    path = SOLE.joinpath(*parts)
    return bool(parts) and (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file())


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every sole module ``path`` imports, anywhere in the file."""
    rel = path.relative_to(SOLE).with_suffix("").parts
    package = rel if path.name == "__init__.py" else rel[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(("sole", *anchor, *([node.module] if node.module else [])))
            for alias in node.names:  # `from sole import viz` imports the module sole.viz
                sub = _module_parts(f"{base}.{alias.name}")
                found.append((node.lineno, f"{base}.{alias.name}" if sub is not None and _is_module(sub) else base))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "import_module" and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return [(line, name) for line, name in found if _module_parts(name) is not None]


def problem(src: str, dst: str) -> str | None:
    """Why a module at place ``src`` may not import one at place ``dst``; None when it may."""
    if src in TOP:
        return None
    if src in BOTTOM:
        return None if dst in BOTTOM else "a bottom helper imports only the other bottom helpers"
    if dst in TOP:
        return f"a stage module imports the top ({dst})"
    if dst in STAGES and STAGES.index(dst) > STAGES.index(src):
        return f"stage {src} imports the later stage {dst}"
    return None


def violations(path: Path) -> list[str]:
    src = place(path.relative_to(SOLE).with_suffix("").parts)
    out = []
    for line, name in imported(path):
        why = problem(src, place(_module_parts(name)))
        if why:
            out.append(f"sole/{path.relative_to(SOLE)}:{line} imports {name}: {why}")
    return out


MODULES = sorted(SOLE.rglob("*.py"))


def test_every_module_has_a_place():
    places = {place(p.relative_to(SOLE).with_suffix("").parts) for p in MODULES}
    assert places <= {*STAGES, *BOTTOM, *TOP}, places - {*STAGES, *BOTTOM, *TOP}


def test_every_import_points_down_the_data_path():
    found = [v for p in MODULES for v in violations(p)]
    assert not found, "imports that run back up the data path:\n" + "\n".join(found)


@pytest.mark.parametrize("source, found", [
    ("from sole.eval.metrics import finite_mean", "stage envs imports the later stage eval"),
    ("def f():\n    from sole import cli", "a stage module imports the top (cli)"),
    ("import sole", "a stage module imports the top (__init__)"),
    ("import importlib\nimportlib.import_module('sole.rl.sac')", "stage envs imports the later stage rl"),
    ("from sole import viz\nfrom sole.envs import tasks", None),
])
def test_the_scan_reads_every_kind_of_import(tmp_path, monkeypatch, source, found):
    fake = tmp_path / "sole"
    (fake / "envs").mkdir(parents=True)
    for name in ("viz.py", "cli.py", "envs/__init__.py", "envs/tasks.py"):
        (fake / name).write_text("")
    (fake / "envs" / "mod.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "SOLE", fake)
    got = violations(fake / "envs" / "mod.py")
    assert [g.split(": ", 1)[1] for g in got] == ([found] if found else [])
