"""Continuous task progress in [0, 1] and structured facts, from privileged simulator state.

Progress follows the task's phases and is built from three terms, each in [0, 1]:

- ``reach``: how much of the initial hand-to-object distance has been closed;
- ``grasp``: whether the object is held (``pick`` tasks only);
- ``move``: how much of the initial object-to-goal distance has been closed, measured to the task's success
  radius so that ``move == 1`` exactly where Meta-World calls the task solved.

Earlier phases count as complete once a later one has advanced (``max`` latching), so pushing the object
halfway scores the reach phase fully even if the hand has moved away; moving the object back lowers ``move``
and so lowers progress (undoing work is visible). Finally progress is gated on Meta-World's success flag:
>= 0.95 exactly when the task is solved, <= 0.94 otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sole.envs.tasks import TaskSpec

PHASE_WEIGHTS: dict[str, dict[str, float]] = {
    "reach": {"reach": 0.0, "grasp": 0.0, "move": 1.0},
    "push": {"reach": 0.3, "grasp": 0.0, "move": 0.7},
    "pick": {"reach": 0.2, "grasp": 0.15, "move": 0.65},
}
"""Share of progress each phase contributes, by the task's phase template."""

SUCCESS_RADIUS: dict[str, float] = {}
"""Per-task object-to-goal distance at which Meta-World reports success; tasks not listed use the default."""
DEFAULT_SUCCESS_RADIUS = 0.05
SOLVED_FLOOR = 0.95
UNSOLVED_CEILING = 0.94


@dataclass(frozen=True)
class Facts:
    """What is true at one step, in the words the reasoning uses. All distances in metres."""

    t: int
    hand: tuple[float, float, float]
    gripper_open: float
    obj: tuple[float, float, float]
    goal: tuple[float, float, float]
    hand_to_obj: float
    obj_to_goal: float
    grasped: bool
    phase: str
    progress: float
    success: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Privileged:
    """Ground truth at the current step: for labels and evaluation only, never for a policy or reward model."""

    progress: float
    success: bool
    ever_success: bool
    first_success_step: int | None
    facts: Facts
    terms: dict[str, float] = field(default_factory=dict)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


class TaskProgress:
    """Tracks one episode of one task and computes its progress label and facts at every step."""

    def __init__(self, spec: TaskSpec, env: Any):
        from metaworld.policies import ENV_POLICY_MAP

        self.spec = spec
        self.env = env
        self.expert = ENV_POLICY_MAP[spec.env_id]()
        self.weights = PHASE_WEIGHTS[spec.phases]
        self.radius = SUCCESS_RADIUS.get(spec.name, DEFAULT_SUCCESS_RADIUS)
        self._t = 0
        self._d0 = self._r0 = 1.0
        self._ever: int | None = None
        self._last: Privileged | None = None

    def reset(self, obs: np.ndarray) -> None:
        _, info = self.env.evaluate_state(obs, np.zeros(4))
        self._t, self._ever = 0, None
        self._d0 = float(info["obj_to_target"])
        self._r0 = self._hand_to_obj()
        self._last = self._compute(obs, info)

    def update(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._t += 1
        self._last = self._compute(obs, info)

    def current(self) -> Privileged:
        if self._last is None:
            raise RuntimeError("progress is undefined before reset()")
        return self._last

    def _hand_to_obj(self) -> float:
        return float(np.linalg.norm(self.env.tcp_center - self.env._get_pos_objects()[:3]))

    def _compute(self, obs: np.ndarray, info: dict[str, Any]) -> Privileged:
        d = float(info["obj_to_target"])
        h = self._hand_to_obj()
        success = bool(info["success"])
        if success and self._ever is None:
            self._ever = self._t
        grasped = bool(self.spec.phases == "pick" and info.get("grasp_success", 0.0) > 0)
        move = _clip01((self._d0 - d) / max(self._d0 - self.radius, 0.02))
        reach = _clip01(1.0 - h / max(self._r0, 1e-3))
        grasp = float(grasped)
        w = self.weights
        raw = w["reach"] * max(reach, grasp, move) + w["grasp"] * max(grasp, move) + w["move"] * move
        progress = max(raw, SOLVED_FLOOR) if success else min(raw, UNSOLVED_CEILING)
        facts = Facts(
            t=self._t,
            hand=tuple(round(float(v), 4) for v in obs[0:3]),  # type: ignore[arg-type]
            gripper_open=round(float(obs[3]), 3),
            obj=tuple(round(float(v), 4) for v in self.env._get_pos_objects()[:3]),  # type: ignore[arg-type]
            goal=tuple(round(float(v), 4) for v in self.env._target_pos[:3]),  # type: ignore[arg-type]
            hand_to_obj=round(h, 4),
            obj_to_goal=round(d, 4),
            grasped=grasped,
            phase=self._phase(success, reach, grasped, move),
            progress=round(progress, 4),
            success=success,
        )
        return Privileged(progress=progress, success=success, ever_success=self._ever is not None,
                          first_success_step=self._ever, facts=facts,
                          terms={"reach": reach, "grasp": grasp, "move": move})

    def _phase(self, success: bool, reach: float, grasped: bool, move: float) -> str:
        if success:
            return "done"
        if self.spec.phases == "reach":
            return "reach"
        if grasped or move > 0.05:
            return "carry" if self.spec.phases == "pick" else "move"
        return "grasp" if self.spec.phases == "pick" and reach > 0.8 else "reach"
