"""A conservative ensemble: several reasoners read each query and the lowest progress is the answer.

A policy trained against one learned reward finds states that this one model reads as done. Models trained apart
(other seeds, other recipes) tend to err in different states, so paying only what every member agrees on takes
away much of what such a policy can exploit, at the cost of one forward pass per member. Spec:
``min:SPEC+SPEC[+...]`` (`sole.models.registry`), e.g. ``min:compact:fold-a+runs/sft-seed1/final``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sole.models.base import Query, Reasoner, Step


@dataclass
class MinEnsemble:
    members: list[Reasoner]

    def __post_init__(self) -> None:
        if len(self.members) < 2:
            raise ValueError(f"an ensemble needs at least 2 reasoners, got {len(self.members)}")
        views = {m.views for m in self.members}
        if len(views) != 1:
            raise ValueError(f"ensemble members read different views: {sorted(views)}")
        self.views = self.members[0].views

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        """Each query's lowest answer; with ``think``, the reasoning of the member that gave it."""
        answers = [m.judge(queries, think=think) for m in self.members]
        return [min(steps, key=lambda s: s.progress) for steps in zip(*answers, strict=True)]
