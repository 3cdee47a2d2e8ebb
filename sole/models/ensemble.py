"""Ensembles: several reasoners read each query and one order statistic of their answers is the answer.

``min`` is the conservative ensemble. A policy trained against one learned reward finds states that this one
model reads as done. Models trained apart (other seeds, other recipes) tend to err in different states, so paying
only what every member agrees on takes away much of what such a policy can exploit.

``median`` is the denoising ensemble. On tasks no member saw, models of one recipe trained with different seeds
disagree far more than on their training tasks (docs/model.md), and the median of several reads progress
more steadily than any one of them.

Either costs one forward pass per member and answers with one member's own step (its reasoning included), the
lower median for an even count. Spec: ``min:SPEC+SPEC[+...]`` or ``median:SPEC+SPEC+SPEC[+...]``
(`sole.models.registry`), e.g. ``min:compact:fold-a+runs/sft-seed1/final``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sole.models.base import Query, Reasoner, Step

Combine = Literal["min", "median"]
COMBINES: tuple[Combine, ...] = ("min", "median")


@dataclass
class Ensemble:
    members: list[Reasoner]
    combine: Combine = "min"

    def __post_init__(self) -> None:
        if self.combine not in COMBINES:
            raise ValueError(f"unknown ensemble {self.combine!r}; valid: {', '.join(COMBINES)}")
        if len(self.members) < 2:
            raise ValueError(f"an ensemble needs at least 2 reasoners, got {len(self.members)}")
        views = {m.views for m in self.members}
        if len(views) != 1:
            raise ValueError(f"ensemble members read different views: {sorted(views)}")
        self.views = self.members[0].views
        self._rank = 0 if self.combine == "min" else (len(self.members) - 1) // 2

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        """Each query's chosen answer; with ``think``, the reasoning of the member that gave it."""
        answers = [m.judge(queries, think=think) for m in self.members]
        return [sorted(steps, key=lambda s: s.progress)[self._rank] for steps in zip(*answers, strict=True)]
