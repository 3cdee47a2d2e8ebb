"""`ProcEnv`: a generated world as a Meta-World `SawyerXYZEnv`, so arm, mocap control, cameras, action space, the
39-d observation and the 500-step limit are Meta-World's own.

The observation carries what Meta-World's carries for its own tasks: the hand, the gripper opening, the position
and orientation of the one thing the task acts on (the loose object, or the mechanism's handle) and the goal
position; distractors are left out, as Meta-World leaves out everything but its task objects. On every reset each
part of the scene moves by up to `JITTER` from where the world put it (drawn from the env's seeded generator, as
Meta-World draws its layouts).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from gymnasium.spaces import Box
from metaworld.sawyer_xyz_env import SawyerXYZEnv
from scipy.spatial.transform import Rotation

from sole.envs.procedural.mjcf import model_path
from sole.envs.procedural.verbs import JOINT_RADIUS, VERBS
from sole.envs.procedural.world import World

JITTER = 0.015
"""Largest shift (m, in x and y) of each part of the scene on reset."""
HAND_INIT = (0.0, 0.6, 0.2)
"""Where the hand starts, as in Meta-World's tasks."""
ZONE_HOVER = 0.06
"""Height (m) above a zone the hand is brought to by ``reach-zone``."""


class ProcEnv(SawyerXYZEnv):
    """One generated world; goal-observable like the Meta-World envs `sole.envs.sim.TaskEnv` builds."""

    def __init__(self, world: World, seed: int | None = None):
        self.world = world
        self.verb = VERBS[world.verb]
        self._path = str(model_path(world))
        super().__init__(hand_low=(-0.5, 0.40, 0.05), hand_high=(0.5, 1.0, 0.5))
        self.hand_init_pos = np.array(HAND_INIT)
        self.radius = JOINT_RADIUS[world.mech.kind] if self.verb.error == "joint" else self.verb.radius
        parts = len(world.prims) + (world.mech is not None) + (world.target is not None)
        self._random_reset_space = Box(-np.ones(2 * parts), np.ones(2 * parts), dtype=np.float64)
        self.goal_space = Box(np.array(self.hand_low), np.array(self.hand_high), dtype=np.float64)
        self._partially_observable = False
        del self.sawyer_observation_space  # cached with the goal hidden; recomputed with it visible
        self._set_task_called = True
        self._freeze_rand_vec, self.seeded_rand_vec = False, True
        self.seed(seed if seed is not None else world.seed)
        self.reset()

    @property
    def model_name(self) -> str:
        return self._path

    # --- what the task acts on ------------------------------------------------------------------------------------
    def _subject_pos(self) -> np.ndarray:
        w = self.world
        if w.mech is not None:
            return self._get_site_pos("handle")
        if w.subject is None:  # reach-zone: the zone
            return self.data.body("target").xpos.copy()
        return self.data.body(w.subject.name).xpos.copy()

    def _get_pos_objects(self) -> np.ndarray:
        return self._subject_pos()

    def _get_quat_objects(self) -> np.ndarray:
        return Rotation.from_matrix(self.data.body(self.task_body()).xmat.reshape(3, 3)).as_quat()

    def body_geoms(self, *bodies: str) -> np.ndarray:
        """Geom ids of the named bodies."""
        names = np.array([self.model.body(b).name for b in self.model.geom_bodyid])
        return np.flatnonzero(np.isin(names, bodies))

    def task_body(self) -> str:
        """The body the task acts on: the loose object, the mechanism's moving part, or the target zone."""
        w = self.world
        return "mech" if w.mech is not None else "target" if w.subject is None else w.subject.name

    def joint_value(self) -> float:
        """The mechanism's joint value (m or rad)."""
        return float(self.data.joint("mech_joint").qpos[0])

    # --- reset ----------------------------------------------------------------------------------------------------
    def reset_model(self) -> np.ndarray:
        self._reset_hand()
        shifts = iter(self._get_state_rand_vec().reshape(-1, 2) * JITTER)
        qpos, qvel = self.data.qpos.copy(), np.zeros_like(self.data.qvel)
        for p in self.world.prims:
            adr = self.model.jnt_qposadr[self.model.joint(f"{p.name}_joint").id]
            qpos[adr:adr + 7] = [*(np.array(p.xy) + next(shifts)), p.half[2], 1.0, 0.0, 0.0, 0.0]
        if self.world.mech is not None:
            self.model.body("mech_base").pos[:2] = np.array(self.world.mech.xy) + next(shifts)
            qpos[self.model.jnt_qposadr[self.model.joint("mech_joint").id]] = self.world.mech.q0
        if self.world.target is not None:
            self.model.body("target").pos[:2] = np.array(self.world.target.xy) + next(shifts)
        self.set_state(qpos, qvel)
        self.obj_init_pos = self._subject_pos()
        self._target_pos = self._goal_point()
        return self._get_obs()

    def _goal_point(self) -> np.ndarray:
        """Where the goal is in space: for the label's facts and the observation's goal slot."""
        w, v = self.world, self.verb
        if w.mech is not None:
            return self._handle_at(w.qgoal)
        if w.subject is None:
            return self.data.body("target").xpos + np.array([0.0, 0.0, ZONE_HOVER])
        start, hz = self.obj_init_pos, w.subject.half[2]
        if w.verb == "touch":
            return start + np.array([0.0, 0.0, hz])
        if w.verb == "stack":
            base = w.prims[1]
            return self.data.body(base.name).xpos + np.array([0.0, 0.0, base.half[2] + hz])
        if w.target is None:  # shift and lift: a displacement
            return start + np.array(w.offset)
        floor = {"zone": 0.0, "plate": 0.012, "bin": 0.006}[w.target.kind]
        centre = self.data.body("target").xpos
        return np.array([centre[0], centre[1], floor + hz if v.error == "place" else hz])

    def _handle_at(self, q: float) -> np.ndarray:
        """The handle site's position with the joint at ``q`` (the state is put back)."""
        adr = self.model.jnt_qposadr[self.model.joint("mech_joint").id]
        keep = self.data.qpos[adr]
        self.data.qpos[adr] = q
        mujoco.mj_kinematics(self.model, self.data)
        point = self._get_site_pos("handle")
        self.data.qpos[adr] = keep
        mujoco.mj_kinematics(self.model, self.data)
        return point

    # --- how far from solved --------------------------------------------------------------------------------------
    def task_error(self) -> float:
        """The verb's error (see `sole.envs.procedural.verbs.Verb.error`); solved when it is <= `radius`."""
        kind, w = self.verb.error, self.world
        if kind == "joint":
            return abs(self.joint_value() - w.qgoal)
        if kind == "press":
            return max(w.qgoal - self.joint_value(), 0.0)
        if kind == "reach":
            return float(np.linalg.norm(self.tcp_center - self._target_pos))
        obj = self._subject_pos()
        if kind == "lift":
            return float(max(self._target_pos[2] - obj[2], 0.0))
        if kind == "slide":
            return float(np.linalg.norm(obj[:2] - self._target_pos[:2]))
        if w.verb == "stack":  # the base may have been nudged: the goal is on top of it where it is now
            self._target_pos = self._goal_point()
        return float(np.linalg.norm(obj - self._target_pos))

    def evaluate_state(self, obs: np.ndarray, action: np.ndarray) -> tuple[float, dict[str, Any]]:
        error = self.task_error()
        near = float(np.linalg.norm(self.tcp_center - self._subject_pos()) <= self.verb.contact + 0.02)
        info = {"success": float(error <= self.radius), "near_object": near, "grasp_success": 0.0,
                "grasp_reward": 0.0, "in_place_reward": 0.0, "obj_to_target": error, "unscaled_reward": 0.0}
        return 0.0, info
