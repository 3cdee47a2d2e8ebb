"""Derived goals: more training tasks from the episodes already on disk, labelled from their stored facts.

A held-out model reads unseen tasks better the more distinct tasks it trains on (about +0.1 VOC per doubling,
docs/model.md), and a strict fold of Meta-World has only 25. Each stored step keeps the object's and the hand's
positions (`sole.envs.progress.Facts`), so every episode can also be labelled for goals that name a part and a
direction: "move the drawer toward the robot", "move the gripper up". Their progress is the part's displacement
along that direction since the first frame *as played*, over ``SPAN`` metres, clipped to [0, 1], so a reversed
clip is labelled by what it shows. A direction reads 0 where the part moved the other way, which teaches
direction words on every object; goals that name the object read 0 while only the arm moves, which teaches the
difference between moving the arm and moving the object.

Object goals are offered only along axes on which the episode's object moves at least ``MIN_MOVE`` (either
way): a goal that no frame of the scene can advance is a mismatched goal, and those held the fold models at zero
on unseen tasks (docs/model.md). Reach tasks have no object apart from the fingertip, so only the hand's goals.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import numpy as np

from sole.envs.tasks import get_task

PREFIX = "move:"
"""Derived goal names start with this (``move:obj:up``), so they never collide with a task name."""
SPAN = 0.10
"""Displacement (m) along the named direction that completes a derived goal."""
MIN_MOVE = 0.02
"""An object axis is offered only where the object moves at least this far (m) along it in the episode."""

Part = Literal["obj", "hand"]
DIRECTIONS: dict[str, tuple[int, int, tuple[str, str]]] = {
    "right": (0, 1, ("to the right", "rightward")),
    "left": (0, -1, ("to the left", "leftward")),
    "away": (1, 1, ("away from the robot", "farther from the robot")),
    "toward": (1, -1, ("toward the robot", "closer to the robot")),
    "up": (2, 1, ("up", "upward")),
    "down": (2, -1, ("down", "downward")),
}
"""Direction -> (world axis, sign, two phrasings). World x runs left to right, y away from the robot, z up."""


@dataclass(frozen=True)
class DerivedGoal:
    name: str
    part: Part
    direction: str
    noun: str
    """What the goal text calls the part: the task's object, or the gripper."""

    @property
    def goals(self) -> tuple[str, ...]:
        """Paraphrases; as with task goals, index 2 is kept out of training."""
        near, far = DIRECTIONS[self.direction][2]
        return (f"move the {self.noun} {near}", f"shift the {self.noun} {far}", f"bring the {self.noun} {near}")

    def displacement(self, facts: list[dict[str, Any]], order: np.ndarray) -> np.ndarray:
        """Signed displacement (m) along the direction, relative to the first frame of ``order``."""
        axis, sign, _ = DIRECTIONS[self.direction]
        pos = np.array([facts[i][self.part][axis] for i in order], dtype=np.float32)
        return sign * (pos - pos[0])

    def label(self, facts: list[dict[str, Any]], order: np.ndarray) -> np.ndarray:
        """Progress (T,) of the frames ``order`` (stored indices, as played)."""
        return np.clip(self.displacement(facts, order) / SPAN, 0.0, 1.0).astype(np.float32)


def is_derived(name: str) -> bool:
    return name.startswith(PREFIX)


@cache
def _goals(task: str) -> tuple[DerivedGoal, ...]:
    spec = get_task(task)
    parts: list[tuple[Part, str]] = [("hand", "gripper")] + ([] if spec.phases == "reach" else [("obj", spec.obj)])
    return tuple(DerivedGoal(f"{PREFIX}{part}:{d}", part, d, noun) for part, noun in parts for d in DIRECTIONS)


def derived_goals(task: str, facts: list[dict[str, Any]]) -> tuple[DerivedGoal, ...]:
    """The derived goals offered on an episode of ``task`` with per-step ``facts``."""
    obj = np.array([f["obj"] for f in facts], dtype=np.float32)
    moved = np.abs(obj - obj[0]).max(axis=0)  # per axis, either way
    return tuple(g for g in _goals(task) if g.part == "hand" or moved[DIRECTIONS[g.direction][0]] >= MIN_MOVE)


def derived_goal(task: str, name: str) -> DerivedGoal:
    """The derived goal ``name`` as it reads for ``task``'s scene (its object's noun)."""
    for g in _goals(task):
        if g.name == name:
            return g
    raise KeyError(f"no derived goal {name!r} for task {task!r}")


def derived_cot(goal: DerivedGoal, facts: list[dict[str, Any]], order: np.ndarray, t: int) -> str:
    """``<think>...</think><answer>N%</answer>`` at played step ``t`` (``order``: stored indices as played)."""
    moved = round(100 * float(goal.displacement(facts, order)[t]))
    progress = round(100 * float(goal.label(facts, order)[t]))
    phrase = DIRECTIONS[goal.direction][2][0]
    done = (f"the {goal.noun} moved {moved} cm {phrase}" if moved > 0
            else f"the {goal.noun} has not moved {phrase}")
    left = round(100 * SPAN) - max(moved, 0)
    remaining = "nothing remains" if left <= 0 else f"remaining: move it {left} cm {phrase}"
    return f"<think>t={t}: {done}; {remaining}. Progress: {progress}%.</think><answer>{progress}%</answer>"
