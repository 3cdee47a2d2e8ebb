"""One episode in memory: what the rollouts (`sole.synth.rollouts`) produce, the dataset stores and training and
evaluation read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Episode:
    task: str
    """The task whose scene was simulated (and whose policy, expert or not, acted)."""
    kind: str
    """Rollout kind: expert, noisy, pause, partial, undo, failure, hover, near-miss, frozen, occluded, reversed..."""
    seed: int
    frames: dict[str, np.ndarray]
    """View -> uint8 (T, H, W, 3); views ``external`` and ``wrist``."""
    labels: dict[str, np.ndarray]
    """Goal task -> true progress (T,) in [0, 1] for that goal: the episode's own task and every task sharing its
    scene (counterfactual goals). A goal of any other task is a mismatch whose progress is 0 throughout."""
    facts: list[dict[str, Any]]
    """Per-step facts of the own task (see `sole.envs.progress.Facts`), as plain dicts."""
    actions: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    """(T, 4) actions; row t led to frame t (row 0 is zeros)."""
    success: bool = False
    """Whether the own task was ever solved in this episode."""
    index: int = 0
    """Episode index within its dataset."""
    meta: dict[str, Any] = field(default_factory=dict)
    """The rollout's drawn parameters (noise level, stall spans, frozen span, failure mode...), JSON-able."""

    def __len__(self) -> int:
        return len(self.labels[self.task])

    def label(self, goal_task: str) -> np.ndarray:
        """True progress of ``goal_task`` along this episode (zeros for a goal from another scene)."""
        return self.labels.get(goal_task, np.zeros(len(self), np.float32))

    def step_facts(self, i: int, t: int | None = None) -> dict[str, Any]:
        """Facts of frame ``i`` as the reasoning reads them: with the task name, and the time anchor ``t`` when the
        frame is played at another time (a reversed sample); by default its own index."""
        return {**self.facts[i], "task": self.task, "t": i if t is None else t}
