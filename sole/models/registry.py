"""Reasoners by name: ``load_reasoner("compact:fold-a")`` is what RL, evaluation and scoring call.

A spec is ``NAME`` or ``NAME:VARIANT`` (``compact``, ``compact:fold-a``, ``compact:fold-b``), a checkpoint
directory, or ``min:SPEC+SPEC[+...]`` / ``median:SPEC+SPEC+SPEC[+...]`` / ``mean:[W*]SPEC+[W*]SPEC[+...]``, the
lowest, the median or the weighted mean answer of several (`sole.models.ensemble`). Shipped compact
checkpoints live in ``sole/checkpoints/<variant>/``; ``compact`` alone is the default model trained on all 50 tasks.
``fold-a-s1`` and ``fold-b-s1`` are the fold models' recipe trained with another seed, for a held-out ensemble such
as ``min:compact:fold-b+compact:fold-b-s1`` (the reward for a fold-a task that neither member saw).
``fold-a-mined`` and ``fold-b-mined`` are the fold recipe with one round of mined policy episodes added: the
states SAC reached on four of the fold's own training tasks when rewarded by ``fold-a`` / ``fold-b``
(`sole synth mine`). ``fold-a-mined2`` and ``fold-b-mined2`` add a second round: the states SAC reached on four
of the fold's own tasks when rewarded by the round-1 models; they are the held-out models.

Where a task is known (evaluation, RL, the demo), `spec_for_task` fills ``{fold}`` with the fold that never held
it, so one spec names the held-out model of every task: ``held-out`` is ``compact:fold-{fold}-mined2``, and
``min:compact:fold-{fold}+compact:fold-{fold}-s1`` the held-out ensemble.

``checked:SPEC`` caps SPEC's answers at what its own reasoning states has moved over the episode
(`sole.models.checked`); ``checked:held-out`` is the held-out model, checked. ``gated:SPEC`` caps them at the
approach share until the objects in the ``scene`` view have moved (`sole.models.gated`). ``contrast:SPEC``
subtracts SPEC's reading under other tasks' goals (`sole.models.contrast`).

``api:URL`` asks an OpenAI-compatible chat endpoint, such as `sole serve` or a vLLM server (`sole.models.api`);
``hf:PATH`` runs a transformers vision-language model from a local folder (`sole.models.hf`). ``const:P`` answers P
everywhere (`sole.models.constant`): the floor of every metric.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

from sole.models.base import Reasoner
from sole.models.ensemble import Combine, Ensemble

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
COMPACT_VARIANTS = ("default", "fold-a", "fold-b", "fold-a-s1", "fold-b-s1", "fold-a-mined", "fold-b-mined",
                    "fold-a-mined2", "fold-b-mined2")
HELD_OUT = "compact:fold-{fold}-mined2"
"""The fold model that never saw a task (``{fold}``: its held-out fold)."""


def load_compact(path: str | Path) -> Reasoner:
    from sole.models.compact import CompactModel, CompactReasoner

    return CompactReasoner(CompactModel.from_pretrained(path))


def _compact(variant: str) -> Reasoner:
    if variant not in COMPACT_VARIANTS:
        raise ValueError(f"unknown compact checkpoint {variant!r}; valid: {', '.join(COMPACT_VARIANTS)} "
                         "or a checkpoint directory")
    return load_compact(CHECKPOINTS / variant)


def _ensemble(combine: Combine) -> Callable[[str], Reasoner]:
    def load(specs: str) -> Reasoner:
        if "+" not in specs:
            raise ValueError(f"{combine}:{specs} names one reasoner; join two or more with '+', "
                             f"e.g. {combine}:compact:fold-a+DIR")
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
        raise ValueError(f"{name}: needs the reasoner it wraps, e.g. {name}:compact:fold-a")
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
    """A reasoner from ``NAME[:VARIANT]`` or a checkpoint directory."""
    if Path(spec).is_dir():
        return load_compact(spec)
    name, _, variant = spec.partition(":")
    if name not in REASONERS:
        raise ValueError(f"unknown reasoner {spec!r}; valid: {', '.join(REASONERS)} (with :VARIANT) "
                         "or a checkpoint directory")
    return REASONERS[name](variant or "default")


def spec_for_task(spec: str, task: str) -> str:
    """``spec`` for reading ``task``: ``held-out`` (or empty), alone or as a part (``checked:held-out``), is
    `HELD_OUT`, and ``{fold}`` becomes the fold that never held ``task``."""
    from sole.envs.tasks import held_out_fold

    spec = re.sub(r"(?<![^:+*])held-out(?![^+])", HELD_OUT, spec or "held-out")
    return spec.replace("{fold}", held_out_fold(task))


def wrap_spec(spec: str, width: int = 48) -> str:
    """``spec`` broken into lines of at most ``width`` characters after its ``+`` joins, for a plot label: a long
    ensemble spec then stays within its legend or panel."""
    lines = [""]
    for part in re.split(r"(?<=\+)", spec):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)
