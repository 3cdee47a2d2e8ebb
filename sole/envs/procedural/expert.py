"""A scripted expert for every generated task, made of a few motion primitives.

Primitives: `move` (toward a point, gripper set), `grasp_and_carry` (hover, descend, close, lift, carry, lower,
release), `push_along` (get behind a part along a direction, then drive through it) and `work_joint` (push a
mechanism's handle along the direction its joint moves, which turns about the joint's axis for a hinge). Like
Meta-World's experts, it is a function of the current state only (no memory), so it picks up from any state a
noisy or paused rollout leaves it in; unlike them it reads privileged state directly (it is only for making data).
"""

from __future__ import annotations

import numpy as np

from sole.envs.procedural.env import ProcEnv

GAIN = 10.0
"""Action per metre of position error (actions are clipped to [-1, 1], 1 cm of mocap motion per env step)."""
HOVER = 0.07
"""Height (m) above a part at which the hand travels before it descends."""
CARRY = 0.15
"""Height (m) of the hand's lowest point while carrying an object."""
STANDOFF: dict[str, tuple[float, float]] = {"drawer": (0.0, 0.05), "door": (0.0, 0.045), "knob": (0.035, 0.035),
                                            "slider": (0.035, 0.035), "lever": (0.04, 0.04), "button": (0.0, 0.0)}
"""Per mechanism, how far behind the handle site (along the motion) the fingertips push when the joint value
rises and when it falls: 0 where the site is the gap the closed fingers hook into (drawer, door handles)."""
OPEN, CLOSED = -1.0, 1.0


def move(tcp: np.ndarray, to: np.ndarray, grip: float, gain: float = GAIN) -> np.ndarray:
    """The action that drives the fingertips toward ``to`` with the gripper command ``grip``."""
    return np.concatenate([np.clip(gain * (to - tcp), -1.0, 1.0), [grip]])


def approach(tcp: np.ndarray, point: np.ndarray, grip: float, tol: float = 0.015,
             there: float = 0.03) -> np.ndarray | None:
    """Travel above ``point`` and descend onto it; None once the fingertips are within ``there`` of it."""
    if np.linalg.norm(tcp - point) < there:
        return None
    if np.linalg.norm(tcp[:2] - point[:2]) > tol and tcp[2] < point[2] + HOVER - 0.02:
        return move(tcp, np.array([tcp[0], tcp[1], point[2] + HOVER]), grip)  # rise first: never sweep the table
    if np.linalg.norm(tcp[:2] - point[:2]) > tol:
        return move(tcp, point + np.array([0.0, 0.0, HOVER]), grip)
    return move(tcp, point, grip)


def push_along(tcp: np.ndarray, part: np.ndarray, direction: np.ndarray, standoff: float,
               grip: float = CLOSED) -> np.ndarray:
    """Get behind ``part`` (``standoff`` back along unit ``direction``), then push it along ``direction``.

    The hand comes down up to 4 cm further back (never further than ``standoff``: a standoff of 0 is a handle the
    fingers hook into from above) and slides in, so it does not land on the part."""
    behind = part - direction * standoff
    if np.linalg.norm(tcp - behind) < 0.04:
        return move(tcp, behind + direction * 0.04, grip)
    action = approach(tcp, behind - direction * min(standoff, 0.04), grip, there=0.02)
    return move(tcp, behind, grip) if action is None else action


class ProcExpert:
    """The expert of one `ProcEnv`; ``get_action(obs)`` as Meta-World's policies (``obs`` is not needed)."""

    def __init__(self, env: ProcEnv):
        self.env = env

    def get_action(self, obs: np.ndarray | None = None) -> np.ndarray:
        env, w = self.env, self.env.world
        tcp = env.tcp_center
        if env.task_error() <= env.radius * 0.5 and env.verb.error != "lift":
            return move(tcp, tcp, OPEN if env.verb.phases == "pick" else CLOSED)  # solved: stay put
        if w.mech is not None:
            return self._work_joint(tcp)
        if env.verb.phases == "reach":  # unhurried, so the hand follows the mocap closely
            return move(tcp, env._target_pos, OPEN, gain=GAIN / 2)
        if env.verb.phases == "pick":
            return self._grasp_and_carry(tcp)
        obj = env._subject_pos()
        heading = env._target_pos[:2] - obj[:2]
        direction = np.array([*heading / max(np.linalg.norm(heading), 1e-6), 0.0])
        part = np.array([obj[0], obj[1], float(np.clip(w.subject.half[2], 0.012, 0.025))])  # type: ignore[union-attr]
        return push_along(tcp, part, direction, w.subject.footprint + 0.02)  # type: ignore[union-attr]

    def _grasp_and_carry(self, tcp: np.ndarray) -> np.ndarray:
        env = self.env
        obj, goal, held = env._subject_pos(), env._target_pos, self.holding()
        if not held:
            grip_at = np.array([obj[0], obj[1], max(obj[2], 0.012)])
            near = np.linalg.norm(tcp - grip_at) < 0.012 or (tcp[2] < grip_at[2] + 0.02 and np.linalg.norm(
                tcp[:2] - grip_at[:2]) < 0.02)
            if near:
                return move(tcp, grip_at, CLOSED)
            action = approach(tcp, grip_at, OPEN, tol=0.01)
            return move(tcp, grip_at, OPEN) if action is None else action
        if env.verb.error == "lift":
            return move(tcp, tcp + np.array([0.0, 0.0, goal[2] + 0.02 - obj[2]]), CLOSED)
        above = np.array([goal[0], goal[1], max(goal[2], CARRY)])
        if np.linalg.norm(obj[:2] - goal[:2]) > 0.015:
            if tcp[2] < CARRY - 0.03:
                return move(tcp, np.array([tcp[0], tcp[1], CARRY]), CLOSED)
            return move(tcp, tcp + (above - obj), CLOSED)
        if obj[2] - goal[2] > 0.01:
            return move(tcp, tcp + (goal + np.array([0.0, 0.0, 0.005]) - obj), CLOSED)
        return move(tcp, tcp, OPEN)

    def holding(self) -> bool:
        """Both finger pads touch the object (privileged contacts, as the label's grasp term)."""
        from sole.envs.progress import pads_touch

        return pads_touch(self.env, self.env.body_geoms(self.env.world.prims[0].name))

    def _work_joint(self, tcp: np.ndarray) -> np.ndarray:
        env, mech = self.env, self.env.world.mech
        assert mech is not None
        rising = env.world.qgoal > env.joint_value()
        handle, motion = env._get_site_pos("handle"), self.joint_motion()
        direction = motion if rising else -motion
        return push_along(tcp, handle, direction / np.linalg.norm(direction),
                          STANDOFF[mech.kind][0 if rising else 1])

    def joint_motion(self) -> np.ndarray:
        """How the handle moves as the joint value rises: the joint axis for a slide, axis x (handle - pivot) for
        a hinge."""
        env = self.env
        j = env.model.joint("mech_joint").id
        axis = env.data.xaxis[j]
        if env.model.jnt_type[j] == 2:  # mjJNT_SLIDE
            return axis.copy()
        return np.cross(axis, env._get_site_pos("handle") - env.data.xanchor[j])

