"""Contrasted answers: a reasoner's progress toward the goal minus its progress toward goals that are not the task.

An experimental reader. A reading of a state as done whatever the goal says is not about the goal, so it shows up
under other goals too. `Contrast` asks the same frames again under `BASELINE_GOALS`, tasks about other objects,
and answers the goal's reading minus their mean, the goal-baseline idea of VLM reward models: what is left is the
part of the reading that this goal, and not any goal, explains. A baseline goal equal to the query's goal is
skipped. It costs one forward pass per baseline goal. Spec (`sole.models.registry`): ``contrast:SPEC``, e.g.
``contrast:held-out``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sole.models.base import Query, Reasoner, Step

BASELINE_GOALS = ("put the ball into the hoop", "open the window", "unplug the peg from the side",
                  "turn the dial")
"""Goals of four tasks on four different objects; three of them remain when the query's goal is one."""


class Contrast:
    """A `Reasoner` answering its inner reasoner's progress minus the mean under `BASELINE_GOALS`."""

    def __init__(self, inner: Reasoner):
        self.inner = inner
        self.views = inner.views

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        steps = self.inner.judge(queries, think=think)
        others = [[g for g in BASELINE_GOALS if g != q.goal] for q in queries]
        flat = [dataclasses.replace(q, goal=g) for q, goals in zip(queries, others, strict=True) for g in goals]
        answers = iter(step.progress for step in self.inner.judge(flat, think=False))
        baseline = [float(np.mean([next(answers) for _ in goals])) for goals in others]
        return [dataclasses.replace(step, progress=float(np.clip(step.progress - b, -1.0, 1.0)))
                for step, b in zip(steps, baseline, strict=True)]
