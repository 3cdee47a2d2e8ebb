"""Continuous task progress in [0, 1] and structured facts, from privileged simulator state.

Progress follows the task's phases and is built from three terms, each in [0, 1]:

- ``reach``: how much of the initial hand-to-object distance has been closed;
- ``grasp``: whether both finger pads touch the task's loose object (``pick`` tasks only);
- ``move``: how much of the task's initial *error* has been removed. The error is, per task, the quantity
  Meta-World's own success test thresholds (``GOALS``): the object-to-goal distance for most tasks, the lever's
  angle for lever-pull, the nail's depth plus the hammer head's distance to the nail for hammer, a route over the
  peg for assembly... It is measured down to the task's success threshold, so ``move`` reaches 1 where
  Meta-World calls the task solved and the ungated value is already ~1 there (no jump at success).

Earlier phases count as much as a later one has advanced (``max`` latching), so pushing the object halfway scores
the reach phase too even if the hand has moved away; moving the object back lowers ``move`` and so lowers progress
(undoing work is visible). Progress is a function of the current state and the episode's initial state only, never
of elapsed time. Finally it is gated on Meta-World's success flag: >= 0.95 exactly when the task is solved,
<= 0.94 otherwise; ``terms["raw"]`` keeps the ungated value.
"""

from __future__ import annotations

from collections.abc import Callable
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

SOLVED_FLOOR = 0.95
UNSOLVED_CEILING = 0.94
TOOL_SLACK = 0.05
"""Distance (m) at which a tool counts as touching what it acts on (hammer head at the nail)."""
STICK_REACH = 0.08
"""Distance (m) from the stick's end to the thermos at which stick-push's stick is pushing the thermos."""
PEG_CLEARANCE = 0.1
"""Height (m) above the peg top that assembly's ring must pass through before it can slide down the peg."""

ErrorFn = Callable[[Any, dict[str, Any]], float]


@dataclass(frozen=True)
class Goal:
    """How far a task is from solved: ``error(env, info)`` falls to ``radius`` where Meta-World reports success,
    and where the hand must be to work on it."""

    error: ErrorFn
    """Task error from the Meta-World env and the info dict of its last step."""
    radius: float
    """Meta-World's success threshold on that error (from the env's ``evaluate_state``)."""
    contact: float
    """Hand-to-object distance (m) at which the hand is at work: where the scripted expert starts moving the object
    (``pick``: grasps it), median of 6 seeds. The object position is often not where the hand pushes (a window's
    handle, a door's face), so reach counts distance closed down to this, not down to 0."""


def _reported(env: Any, info: dict[str, Any]) -> float:
    """Meta-World's own ``obj_to_target`` (the distance its success test thresholds)."""
    return float(info["obj_to_target"])


def _obj_to_target(env: Any, info: dict[str, Any]) -> float:
    """Straight-line object-to-goal distance (box-close: lid to box)."""
    return float(np.linalg.norm(env._get_pos_objects()[:3] - env._target_pos))


def _door_swing(env: Any, info: dict[str, Any]) -> float:
    """door-open: the handle's x distance to the open position."""
    return float(abs(env._get_pos_objects()[0] - env._target_pos[0]))


def _lever_angle(env: Any, info: dict[str, Any]) -> float:
    """lever-pull: radians between the lever and vertical."""
    return float(abs(-env.data.joint("LeverAxis").qpos.item() - np.pi / 2))


def _ring_route(env: Any, info: dict[str, Any]) -> float:
    """assembly: remaining path of the ring: up over the peg (through a waypoint above it), then down onto it."""
    ring, peg = env._get_site_pos("RoundNut"), env._target_pos
    if np.linalg.norm(ring[:2] - peg[:2]) < 0.02:  # over the peg: only the descent remains
        return float(max(ring[2] - peg[2], 0.0))
    waypoint = np.array([peg[0], peg[1], peg[2] + PEG_CLEARANCE])
    return float(np.linalg.norm(ring - waypoint) + PEG_CLEARANCE)


def _ring_lift(env: Any, info: dict[str, Any]) -> float:
    """disassemble: how far the ring still is below the height that clears the peg."""
    return float(max(env._target_pos[2] - env._get_pos_objects()[2], 0.0))


def _nail(env: Any, info: dict[str, Any]) -> float:
    """hammer: the hammer head's distance to the nail head plus how far the nail still sticks out."""
    head = env.data.geom("HammerHead").xpos
    depth = max(0.09 - env.data.joint("NailSlideJoint").qpos.item(), 0.0)
    return float(max(np.linalg.norm(head - env.data.site("nailHead").xpos) - TOOL_SLACK, 0.0) * (depth > 0) + depth)


def _stick_push(env: Any, info: dict[str, Any]) -> float:
    """stick-push: the stick's end to the thermos, then the thermos to the goal."""
    thermos = env._get_pos_objects()[3:6]
    tool = max(np.linalg.norm(env._get_site_pos("stick_end") - thermos) - STICK_REACH, 0.0)
    return float(tool + np.linalg.norm(thermos - env._target_pos))


def _stick_pull(env: Any, info: dict[str, Any]) -> float:
    """stick-pull: how far the stick's end is from inserted in the thermos handle, then the handle to the goal."""
    handle, end = env._get_pos_objects()[3:6], env._get_site_pos("stick_end")
    tool = max(handle[0] - end[0], 0.0) + max(abs(end[1] - handle[1]) - 0.04, 0.0) + max(
        abs(end[2] - handle[2]) - 0.06, 0.0)
    return float(tool + np.linalg.norm(handle - env._target_pos))


GOALS: dict[str, Goal] = {
    "assembly": Goal(_ring_route, 0.0, 0.01),
    "basketball": Goal(_reported, 0.08, 0.01),
    "bin-picking": Goal(_reported, 0.05, 0.01),
    "box-close": Goal(_obj_to_target, 0.08, 0.08),
    "button-press-topdown": Goal(_reported, 0.024, 0.01),
    "button-press-topdown-wall": Goal(_reported, 0.024, 0.05),
    "button-press": Goal(_reported, 0.02, 0.12),
    "button-press-wall": Goal(_reported, 0.03, 0.03),
    "coffee-button": Goal(_reported, 0.02, 0.12),
    "coffee-pull": Goal(_reported, 0.07, 0.02),
    "coffee-push": Goal(_reported, 0.07, 0.03),
    "dial-turn": Goal(_reported, 0.07, 0.07),
    "disassemble": Goal(_ring_lift, 0.0, 0.01),
    "door-close": Goal(_reported, 0.08, 0.31),
    "door-lock": Goal(_reported, 0.02, 0.03),
    "door-open": Goal(_door_swing, 0.08, 0.07),
    "door-unlock": Goal(_reported, 0.02, 0.07),
    "hand-insert": Goal(_reported, 0.05, 0.01),
    "drawer-close": Goal(_reported, 0.065, 0.08),
    "drawer-open": Goal(_reported, 0.03, 0.06),
    "faucet-open": Goal(_reported, 0.07, 0.05),
    "faucet-close": Goal(_reported, 0.07, 0.05),
    "hammer": Goal(_nail, 0.0, 0.03),
    "handle-press-side": Goal(_reported, 0.02, 0.02),
    "handle-press": Goal(_reported, 0.02, 0.03),
    "handle-pull-side": Goal(_reported, 0.08, 0.02),
    "handle-pull": Goal(_reported, 0.05, 0.04),
    "lever-pull": Goal(_lever_angle, np.pi / 24, 0.17),
    "peg-insert-side": Goal(_reported, 0.07, 0.02),
    "pick-place-wall": Goal(_reported, 0.07, 0.01),
    "pick-out-of-hole": Goal(_reported, 0.07, 0.02),
    "reach": Goal(_reported, 0.05, 0.0),
    "push-back": Goal(_reported, 0.07, 0.03),
    "push": Goal(_reported, 0.05, 0.01),
    "pick-place": Goal(_reported, 0.07, 0.01),
    "plate-slide": Goal(_reported, 0.07, 0.05),
    "plate-slide-side": Goal(_reported, 0.07, 0.07),
    "plate-slide-back": Goal(_reported, 0.07, 0.07),
    "plate-slide-back-side": Goal(_reported, 0.07, 0.03),
    "peg-unplug-side": Goal(_reported, 0.07, 0.02),
    "soccer": Goal(_reported, 0.07, 0.04),
    "stick-push": Goal(_stick_push, 0.12, 0.02),
    "stick-pull": Goal(_stick_pull, 0.12, 0.01),
    "push-wall": Goal(_reported, 0.07, 0.01),
    "reach-wall": Goal(_reported, 0.05, 0.0),
    "shelf-place": Goal(_reported, 0.07, 0.01),
    "sweep-into": Goal(_reported, 0.05, 0.02),
    "sweep": Goal(_reported, 0.05, 0.01),
    "window-open": Goal(_reported, 0.05, 0.14),
    "window-close": Goal(_reported, 0.05, 0.14),
}
"""Per task: the error Meta-World's success test thresholds, and that threshold (Meta-World 3.1.1 ``evaluate_state``).
Tasks whose Meta-World ``obj_to_target`` is not what success tests (0 for assembly, box-close, disassemble,
door-open and hammer; the shoulder-to-lever distance for lever-pull; the thermos alone for the stick tasks) get
their own error."""


@dataclass(frozen=True)
class Facts:
    """What is true at one step, in the words the reasoning uses. All distances in metres.

    ``obj`` is the task object's position; in ``reach`` tasks it is the fingertip point, the thing that must get to
    the goal. ``obj_to_goal`` is the straight-line distance (the task's own error is ``Privileged.terms["error"]``).
    """

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
    """Ground truth at the current step: for labels and evaluation only, never for a policy or reward model.

    ``terms`` holds the parts of progress: ``reach``, ``grasp``, ``move`` (the object-state term: how much of the
    task's error is removed), ``raw`` (progress before success gating) and ``error`` (the task error itself)."""

    progress: float
    success: bool
    ever_success: bool
    first_success_step: int | None
    facts: Facts
    terms: dict[str, float] = field(default_factory=dict)


def _clip01(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _rounded(v: np.ndarray) -> tuple[float, float, float]:
    return tuple(round(float(x), 4) for x in v[:3])  # type: ignore[return-value]


def _loose_object_geoms(env: Any) -> np.ndarray:
    """Geom ids of the free-floating body nearest the task object: what a pick task must grasp."""
    import mujoco  # imported late: `sole.envs.sim` chooses the GL backend before MuJoCo loads

    model, data = env.model, env.data
    free = [model.jnt_bodyid[j] for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if not free:
        return np.zeros(0, dtype=int)
    obj = env._get_pos_objects()[:3]
    body = min(free, key=lambda b: float(np.linalg.norm(data.xpos[b] - obj)))
    return np.flatnonzero(model.body_rootid[model.geom_bodyid] == model.body_rootid[body])


def pads_touch(env: Any, geoms: np.ndarray) -> bool:
    """Whether both finger pads are in contact with any of ``geoms``."""
    contact = env.data.contact
    on_obj = np.isin(contact.geom1, geoms) | np.isin(contact.geom2, geoms)
    pads = [env.data.geom(name).id for name in ("leftpad_geom", "rightpad_geom")]
    return all(bool((on_obj & ((contact.geom1 == p) | (contact.geom2 == p))).any()) for p in pads)


class TaskProgress:
    """Tracks one episode of one task and computes its progress label and facts at every step."""

    def __init__(self, spec: TaskSpec, env: Any, goal: Goal | None = None, expert: Any = None):
        """``goal`` and ``expert`` default to the Meta-World task's (`GOALS`, Meta-World's scripted policy);
        generated tasks pass their own."""
        from metaworld.policies import ENV_POLICY_MAP

        self.spec = spec
        self.env = env
        self.expert = expert if expert is not None else ENV_POLICY_MAP[spec.env_id]()
        self.weights = PHASE_WEIGHTS[spec.phases]
        self.goal = goal if goal is not None else GOALS[spec.name]
        self._t = 0
        self._e0 = self._r0 = 1.0
        self._grasp_geoms = np.zeros(0, dtype=int)
        self._ever: int | None = None
        self._last: Privileged | None = None

    def reset(self, obs: np.ndarray) -> None:
        _, info = self.env.evaluate_state(obs, np.zeros(4))
        self._t, self._ever = 0, None
        self._e0 = self.goal.error(self.env, info)
        self._r0 = self._hand_to_obj()
        if self.spec.phases == "pick":
            self._grasp_geoms = _loose_object_geoms(self.env)
        self._last = self._compute(obs, info)

    def update(self, obs: np.ndarray, info: dict[str, Any]) -> None:
        self._t += 1
        self._last = self._compute(obs, info)

    def relabel(self, obs: np.ndarray) -> None:
        """Recompute the current step's label after the simulator state was edited (no time passes)."""
        _, info = self.env.evaluate_state(obs, np.zeros(4))
        self._last = self._compute(obs, info)

    def current(self) -> Privileged:
        if self._last is None:
            raise RuntimeError("progress is undefined before reset()")
        return self._last

    def _hand_to_obj(self) -> float:
        return float(np.linalg.norm(self.env.tcp_center - self.env._get_pos_objects()[:3]))

    def _compute(self, obs: np.ndarray, info: dict[str, Any]) -> Privileged:
        error = self.goal.error(self.env, info)
        h = self._hand_to_obj()
        success = bool(info["success"])
        if success and self._ever is None:
            self._ever = self._t
        grasped = self.spec.phases == "pick" and pads_touch(self.env, self._grasp_geoms)
        move = _clip01((self._e0 - error) / max(self._e0 - self.goal.radius, 1e-3))
        c = min(self.goal.contact, self._r0 / 2)  # a hand that starts near the object still has to reach it
        reach = _clip01((self._r0 - h) / max(self._r0 - c, 1e-3))
        grasp = float(grasped)
        w = self.weights
        raw = w["reach"] * max(reach, grasp, move) + w["grasp"] * max(grasp, move) + w["move"] * move
        progress = max(raw, SOLVED_FLOOR) if success else min(raw, UNSOLVED_CEILING)
        facts = self._facts(obs, grasped, self._phase(success, reach, grasped, move), progress, success)
        return Privileged(progress=progress, success=success, ever_success=self._ever is not None,
                          first_success_step=self._ever, facts=facts,
                          terms={"reach": reach, "grasp": grasp, "move": move, "raw": raw, "error": error})

    def _facts(self, obs: np.ndarray, grasped: bool, phase: str, progress: float, success: bool) -> Facts:
        # in reach tasks the hand itself is what must get to the goal
        hand = self.env.tcp_center
        obj = hand if self.spec.phases == "reach" else self.env._get_pos_objects()[:3]
        goal = self.env._target_pos[:3]
        return Facts(
            t=self._t,
            hand=_rounded(obs[0:3]),
            gripper_open=round(float(obs[3]), 3),
            obj=_rounded(obj),
            goal=_rounded(goal),
            hand_to_obj=round(float(np.linalg.norm(hand - obj)), 4),
            obj_to_goal=round(float(np.linalg.norm(obj - goal)), 4),
            grasped=grasped,
            phase=phase,
            progress=round(progress, 4),
            success=success,
        )

    def _phase(self, success: bool, reach: float, grasped: bool, move: float) -> str:
        if success:
            return "done"
        if self.spec.phases == "reach":
            return "reach"
        if grasped or move > 0.05:
            return "carry" if self.spec.phases == "pick" else "move"
        return "grasp" if self.spec.phases == "pick" and reach > 0.8 else "reach"
