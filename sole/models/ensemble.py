"""Ensembles (experimental readers): several reasoners read each query and one statistic of their answers is the
answer.

``min`` is the conservative ensemble: models trained apart (other seeds, other recipes) tend to err in different
states, so paying only what every member agrees on takes away what a policy could exploit in one of them.

``median`` is the denoising ensemble: on tasks no member saw, models of one recipe trained with different seeds
disagree far more than on their training tasks, and the median of several reads progress more steadily than any
one of them.

``mean`` is the blending ensemble: a weighted mean of the members' progress, for members that read different
things, such as a model of the robot-free ``scene`` view (it pays for the object's state alone) and a model that
also sees the arm (it also pays for approaching the object).

Each costs one forward pass per member. ``min`` and ``median`` answer with one member's own step (its reasoning
included), the lower median for an even count; ``mean`` answers the weighted mean with the reasoning of its
heaviest member. Members may read different views: the ensemble reads them all. Spec (`sole.models.registry`):
``min:SPEC+SPEC[+...]``, ``median:SPEC+SPEC+SPEC[+...]`` or ``mean:[W*]SPEC+[W*]SPEC[+...]`` (weights default to
1 and are normalised), e.g. ``min:compact:held-out-a+runs/sft-seed1/final`` or
``mean:0.2*compact:held-out-b+0.8*runs/sft-scene-b/final``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sole.models.base import Query, Reasoner, Step

Combine = Literal["min", "median", "mean"]
COMBINES: tuple[Combine, ...] = ("min", "median", "mean")


@dataclass
class Ensemble:
    members: list[Reasoner]
    combine: Combine = "min"
    weights: list[float] | None = None
    """Per member, for ``mean`` only (default equal); normalised to sum to 1 on construction."""

    def __post_init__(self) -> None:
        if self.combine not in COMBINES:
            raise ValueError(f"unknown ensemble {self.combine!r}; valid: {', '.join(COMBINES)}")
        if len(self.members) < 2:
            raise ValueError(f"an ensemble needs at least 2 reasoners, got {len(self.members)}")
        if self.weights is not None and self.combine != "mean":
            raise ValueError(f"weights are for the mean ensemble; {self.combine} takes none")
        weights = self.weights or [1.0] * len(self.members)
        if len(weights) != len(self.members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"mean weights {weights} must be one non-negative number per member, not all 0")
        self.weights = [w / sum(weights) for w in weights]
        self.views = tuple(dict.fromkeys(v for m in self.members for v in m.views))
        self._rank = 0 if self.combine == "min" else (len(self.members) - 1) // 2

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        """Each query's answer; with ``think``, the reasoning of the member that gave it (``mean``: the heaviest)."""
        answers = [m.judge(queries, think=think) for m in self.members]
        if self.combine == "mean":
            lead = max(range(len(self.members)), key=self.weights.__getitem__)
            return [Step(progress=sum(w * s.progress for w, s in zip(self.weights, steps, strict=True)),
                         text=steps[lead].text, parsed=all(s.parsed for s in steps))
                    for steps in zip(*answers, strict=True)]
        return [sorted(steps, key=lambda s: s.progress)[self._rank] for steps in zip(*answers, strict=True)]
