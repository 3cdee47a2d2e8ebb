"""The verbs of generated tasks: how each is measured (its error and success threshold) and phased.

A verb's error is a quantity of the simulator state that falls to ``radius`` (or below) exactly when the task is
solved, as Meta-World's success tests do; the progress label (`sole.envs.progress`) measures how much of it is
removed, so generated tasks are labelled by the same code and the same phase templates as Meta-World's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sole.envs.tasks import Phases


@dataclass(frozen=True)
class Verb:
    phases: Phases
    """Phase template of the label: ``reach`` (the hand is what moves), ``push`` or ``pick``."""
    error: str
    """How far from solved: ``reach`` (hand to the goal point), ``slide`` (object to goal on the table plane),
    ``place`` (object to the goal point), ``lift`` (height still to gain), ``joint`` (mechanism joint to its goal
    value), ``press`` (depth still to press)."""
    radius: float
    """Success threshold on the error (``joint`` verbs: per mechanism, `JOINT_RADIUS`)."""
    contact: float
    """Hand-to-object distance (m) at which the expert is at work on the object (see `sole.envs.progress.Goal`)."""


JOINT_RADIUS: dict[str, float] = {"drawer": 0.02, "door": 0.15, "knob": 0.12, "slider": 0.02, "lever": 0.15}
"""Success threshold (m or rad) of each mechanism's joint error."""

VERBS: dict[str, Verb] = {
    "touch": Verb("reach", "reach", 0.03, 0.0),
    "reach-zone": Verb("reach", "reach", 0.03, 0.0),
    "push": Verb("push", "slide", 0.035, 0.06),
    "pull": Verb("push", "slide", 0.035, 0.06),
    "sweep": Verb("push", "slide", 0.035, 0.06),
    "shift": Verb("push", "slide", 0.035, 0.06),
    "pick-place": Verb("pick", "place", 0.04, 0.015),
    "insert": Verb("pick", "place", 0.04, 0.015),
    "stack": Verb("pick", "place", 0.03, 0.015),
    "lift": Verb("pick", "lift", 0.0, 0.015),
    "press": Verb("push", "press", 0.0, 0.02),
    "open": Verb("push", "joint", 0.0, 0.03),
    "close": Verb("push", "joint", 0.0, 0.05),
    "turn": Verb("push", "joint", 0.0, 0.03),
    "slide": Verb("push", "joint", 0.0, 0.03),
    "pull-lever": Verb("push", "joint", 0.0, 0.035),
    "push-lever": Verb("push", "joint", 0.0, 0.035),
}
"""Verb -> how it is measured. Every verb here has a sampler (`layouts.SAMPLERS`), goal text (`text`) and an
expert (`expert`)."""
