"""Reasoners by spec: ``load_reasoner(spec)`` is what RL, evaluation, scoring and serving call.

A spec is one of:

- ``NAME`` or ``NAME:VARIANT``: a backend of `REASONERS` and its variant, e.g. ``compact`` (the shipped default),
  ``compact:held-out-a`` (a shipped checkpoint of `COMPACT`), ``api:URL``, ``hf:PATH``, ``const:P``;
- a checkpoint directory (a compact checkpoint written by `sole train sft`);
- ``held-out``: for a known task (`spec_for_task`), the shipped model that never saw it; ``{fold}`` anywhere in a
  spec becomes the task's fold, so ``compact:held-out-{fold}`` is the same thing;
- a combinator over specs: ``checked:SPEC``, ``contrast:SPEC``, ``gated:SPEC`` wrap one reader;
  ``min:SPEC+SPEC[+...]``, ``median:SPEC+SPEC+SPEC[+...]`` and ``mean:[W*]SPEC+[W*]SPEC[+...]`` combine several
  (`sole.models.ensemble`). The combinators are experimental readers, not the default reward.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

from sole.models.base import Reasoner
from sole.models.ensemble import Combine, Ensemble

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
COMPACT: dict[str, str] = {
    "default": "trained on all 50 tasks; `compact` alone names it",
    "held-out-a": "trained on the 25 tasks of fold b: it never saw a task of fold a",
    "held-out-b": "trained on the 25 tasks of fold a: it never saw a task of fold b",
}
"""The shipped compact checkpoints (``sole/checkpoints/<name>/``), name -> what it is. How each was made (data,
command, commit) is the ``lineage`` of its config.json."""
HELD_OUT = "compact:held-out-{fold}"
"""The shipped model that never saw a task (``{fold}``: the task's fold)."""


def load_compact(path: str | Path) -> Reasoner:
    from sole.models.compact import CompactModel, CompactReasoner

    return CompactReasoner(CompactModel.from_pretrained(path))


def checkpoint_dir(variant: str) -> Path:
    """The folder of the shipped compact checkpoint ``variant`` (a name of `COMPACT`)."""
    if variant not in COMPACT:
        raise ValueError(f"unknown compact checkpoint {variant!r}; valid: {', '.join(COMPACT)} "
                         "or a checkpoint directory")
    return CHECKPOINTS / variant


def _compact(variant: str) -> Reasoner:
    return load_compact(checkpoint_dir(variant))


def _ensemble(combine: Combine) -> Callable[[str], Reasoner]:
    def load(specs: str) -> Reasoner:
        if "+" not in specs:
            raise ValueError(f"{combine}:{specs} names one reasoner; join two or more with '+', "
                             f"e.g. {combine}:compact:held-out-a+DIR")
        parts = [_weighted(part) for part in specs.split("+")]
        weights = None if all(w is None for w, _ in parts) else [1.0 if w is None else w for w, _ in parts]
        return Ensemble([load_reasoner(spec) for _, spec in parts], combine, weights)

    return load


def _weighted(part: str) -> tuple[float | None, str]:
    """``W*SPEC`` -> (W, SPEC); a plain ``SPEC`` -> (None, SPEC)."""
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\*(.+)", part)
    return (float(match[1]), match[2]) if match else (None, part)


def _wrapped(name: str, spec: str) -> Reasoner:
    """The reasoner a wrapper spec (``checked:SPEC``, ``gated:SPEC``) wraps."""
    if spec == "default":
        raise ValueError(f"{name}: needs the reasoner it wraps, e.g. {name}:held-out")
    return load_reasoner(spec)


def _from_spec(module: str) -> Callable[[str], Reasoner]:
    """The loader of a backend whose module (imported only when used) parses its own variant, ``from_spec``."""

    def load(variant: str) -> Reasoner:
        return importlib.import_module(module).from_spec(variant)

    return load


def _checked(spec: str) -> Reasoner:
    from sole.models.checked import Checked

    return Checked(_wrapped("checked", spec))


def _contrast(spec: str) -> Reasoner:
    from sole.models.contrast import Contrast

    return Contrast(_wrapped("contrast", spec))


def _gated(spec: str) -> Reasoner:
    from sole.models.gated import Gated

    return Gated(_wrapped("gated", spec))


REASONERS: dict[str, Callable[[str], Reasoner]] = {
    "compact": _compact,
    "api": _from_spec("sole.models.api"),
    "hf": _from_spec("sole.models.hf"),
    "const": _from_spec("sole.models.constant"),
    "checked": _checked,
    "gated": _gated,
    "contrast": _contrast,
    "min": _ensemble("min"),
    "median": _ensemble("median"),
    "mean": _ensemble("mean"),
}
"""Backend name -> loader taking the variant (``default`` when the spec names none)."""


def load_reasoner(spec: str) -> Reasoner:
    """A reasoner from ``NAME[:VARIANT]``, a shipped checkpoint's name (``held-out-a`` for
    ``compact:held-out-a``) or a checkpoint directory."""
    if Path(spec).is_dir():
        return load_compact(spec)
    if spec in COMPACT:
        return _compact(spec)
    name, _, variant = spec.partition(":")
    if name not in REASONERS:
        raise ValueError(f"unknown reasoner {spec!r}; valid: {', '.join(REASONERS)} (with :VARIANT), a shipped "
                         f"checkpoint ({', '.join(COMPACT)}) or a checkpoint directory")
    return REASONERS[name](variant or "default")


def spec_for_task(spec: str, task: str) -> str:
    """``spec`` for reading ``task``: ``held-out`` (or empty), alone or as a part (``checked:held-out``), is
    `HELD_OUT`, and ``{fold}`` becomes the fold of ``task`` (the fold that model never saw)."""
    from sole.envs.tasks import get_task

    spec = re.sub(r"(?<![^:+*])held-out(?![^+])", HELD_OUT, spec or "held-out")
    return spec.replace("{fold}", get_task(task).fold)


def wrap_spec(spec: str, width: int = 48) -> str:
    """``spec`` broken into lines of at most ``width`` characters after its ``+`` joins, for a plot label: a long
    ensemble spec then stays within its legend or panel."""
    lines = [""]
    for part in re.split(r"(?<=\+)", spec):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)
