"""Gated answers: a reasoner's progress capped unless the task's objects have visibly moved (``gated:SPEC``).

`Gated` asks the pixels, not the model, whether anything has been done yet. The ``scene`` view is the external
camera with the robot left out (`sole.envs.sim.SCENE`), so a pixel of it changes only where an object moved. If
nothing in the scene differs from the episode's first frame, the answer is capped at the approach share of progress
(`sole.envs.progress.PHASE_WEIGHTS`, push tasks: 0.3); the cap opens linearly to 1 as the share of changed scene
pixels goes from `LOW` to `HIGH`. No model and nothing task-specific is involved. `sole check gate`
(`sole.eval.gate`) measures what the thresholds do to the solved expert episodes and the look-away episodes of
every task.

The gate tells whether something moved, not whether the right thing moved far enough the right way; objects that
settle on their own after reset open it too.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from sole.envs.progress import PHASE_WEIGHTS
from sole.envs.sim import SCENE
from sole.models.base import Query, Reasoner, Step

CLOSED = 1.0 - PHASE_WEIGHTS["push"]["move"]
"""The cap while nothing in the scene moved: the approach share of a push task."""
LOW, HIGH = 0.001, 0.002
"""Share of changed scene pixels at which the cap starts to open, and at which it is fully open."""
PIXEL_STEP = 12
"""A pixel counts as changed when one of its channels differs by more than this (of 255) from the first frame."""


def scene_change(first: np.ndarray, current: np.ndarray) -> float:
    """Share of the scene's pixels that differ from the first frame."""
    diff = np.abs(current.astype(np.int16) - first.astype(np.int16)).max(axis=-1)
    return float((diff > PIXEL_STEP).mean())


def cap(change: float) -> float:
    """The most progress a scene change of ``change`` allows."""
    return CLOSED + (1.0 - CLOSED) * float(np.clip((change - LOW) / (HIGH - LOW), 0.0, 1.0))


class Gated:
    """A `Reasoner` whose answers are capped by how much of the ``scene`` view changed since the first frame."""

    def __init__(self, inner: Reasoner):
        self.inner = inner
        self.views = tuple(dict.fromkeys((*inner.views, SCENE)))

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        steps = self.inner.judge(queries, think=think)
        return [replace(step, progress=min(step.progress, cap(scene_change(q.first[SCENE], q.current[SCENE]))))
                for q, step in zip(queries, steps, strict=True)]
