"""A Meta-World task with two rendered views and a separate, explicitly named privileged channel.

What an agent or a reward model may see: the 39-d Meta-World observation (`step`/`reset`) and the rendered
camera views (`render_views`). What it must never see: simulator reward, success and state. Those are only
reachable through `privileged()`, which labelling and evaluation code call by name, so a leak is easy to grep
for and to test against.

Rendering uses MuJoCo's own offscreen `mujoco.Renderer` with shadows, reflections and multisampling off, which
makes software GL about 10x faster with no visible change at these sizes (see `sole bench envs`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("MUJOCO_GL", "egl")

import gymnasium as gym  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from sole.envs.progress import Goal, Privileged, TaskProgress  # noqa: E402
from sole.envs.tasks import PROC_FOLD, TaskSpec, get_task  # noqa: E402

FREE_CAMERAS: dict[str, tuple[tuple[float, float, float], float, float, float]] = {
    "workspace": ((0.0, 0.65, 0.12), 1.15, 135.0, -30.0),
}
"""Our own cameras, as (look-at point, distance m, azimuth deg, elevation deg). ``workspace`` frames the table area
where all 50 tasks put their objects, from the front right, so at 64 px a puck is a visible blob; Meta-World's
corner cameras show the whole table and the objects come out a few pixels large (see docs/envs.md)."""
CAMERAS = ("workspace", "topview", "corner", "corner2", "corner3", "corner4", "behindGripper", "gripperPOV")
_UPSIDE_DOWN = {"corner", "corner2", "corner3", "corner4"}
SIZES = (32, 48, 64, 96, 128, 160, 224, 256)
VIEWS = ("external", "wrist")
"""The views an agent's camera records: the external camera and the wrist camera."""
SCENE = "scene"
"""The external camera with the robot's own bodies left out: what the task's objects look like, whatever the arm
does. A robot's own pixels are known from its joint state and calibrated cameras (a real set-up masks them), so this
is no privileged channel; a reward model that reads only this view cannot be paid by where the arm is."""
ALL_VIEWS = (*VIEWS, SCENE)
_ROBOT_JOINT = re.compile(r"right_j\d|[rl]_close")
"""Sawyer arm and finger joints; every other joint belongs to the scene's objects (pucks, doors, drawers...)."""
_ROBOT_ROOT = "right_arm_base_link"
"""The body whose subtree is the arm, hand and fingers (the `SCENE` view leaves it out)."""
_ROBOT_GROUP = 2
"""Render group of the robot's visible geoms and sites (shown by MuJoCo's default option; Meta-World's scenes use
0, 1 and 4)."""


@dataclass(frozen=True)
class EnvConfig:
    task: str = "window-close"
    """Task name (see `sole tasks`)."""
    size: int = 64
    """Square render size in pixels of each view; 64 px is the measured speed/legibility trade-off."""
    external: str = "workspace"
    """Camera for the external view: ``workspace`` shows every task's objects largest at 64 px (chosen by looking
    at contact sheets of all cameras on pick-place, button, window and drawer; see docs/envs.md)."""
    wrist: str = "gripperPOV"
    """Camera for the gripper view: ``gripperPOV`` sees the object between the fingers, so grasps are visible;
    ``behindGripper`` is often blocked by the arm."""
    seed: int = 0
    """Seeds the object/goal layout sequence: the same seed gives the same layouts."""
    randomize: bool = True
    """Draw a fresh object/goal layout on every reset (Meta-World's fixed-layout mode when False)."""
    views: tuple[str, ...] = VIEWS
    """The views `render_views` renders (recorded by synthesis); ``scene`` is the external camera without the robot."""

    def validate(self) -> TaskSpec:
        spec = get_task(self.task)
        for cam in (self.external, self.wrist):
            if cam not in CAMERAS:
                raise ValueError(f"unknown camera {cam!r}; valid cameras: {', '.join(CAMERAS)}")
        if self.size not in SIZES:
            raise ValueError(f"unsupported render size {self.size!r}; valid sizes: {', '.join(map(str, SIZES))}")
        check_views(self.views)
        return spec


def check_views(views: tuple[str, ...]) -> tuple[str, ...]:
    """``views`` if it names one or more known views, each once; a clear error otherwise."""
    unknown = [v for v in views if v not in ALL_VIEWS]
    if unknown or not views or len(set(views)) != len(views):
        raise ValueError(f"views must name each of {', '.join(ALL_VIEWS)} at most once, got {views}")
    return views


def fast_render_settings(model: mujoco.MjModel) -> None:
    """Shadows, reflections and multisampling off: ~10x faster software rendering."""
    model.light_castshadow[:] = 0
    model.mat_reflectance[:] = 0
    model.vis.quality.offsamples = 0


class TaskEnv(gym.Env):
    """One Meta-World task; `step` returns reward 0 and an empty info: the reward comes from a reward model.

    Ground truth (progress label, success, facts) is only available from `privileged()`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, cfg: EnvConfig, render_mode: str | None = "rgb_array"):
        self.cfg = cfg
        self.spec_task = cfg.validate()
        self._env, goal, expert = _build(self.spec_task, cfg.seed)
        self._env._freeze_rand_vec = not cfg.randomize
        self._env.seeded_rand_vec = True
        fast_render_settings(self._env.model)
        self._renderer: mujoco.Renderer | None = None
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unsupported render_mode {render_mode!r}; valid: rgb_array or None")
        self.render_mode = render_mode
        # Meta-World's own `observation_space` was built before the goal became observable and bounds the goal
        # slots to 0..0; the recomputed space bounds them by the task's goal space (and clips step observations).
        self.observation_space = self._env.sawyer_observation_space
        self.action_space = self._env.action_space
        self.max_env_steps = self._env.max_path_length
        self._progress = TaskProgress(self.spec_task, self._env, goal, expert)
        self._obs = np.zeros(self.observation_space.shape)
        self._obj_qpos, self._obj_qvel = _object_addresses(self._env.model)
        self._no_robot = _robot_to_own_group(self._env.model)

    # --- agent side -------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(seed)
        self._env.reset()
        # Meta-World leaves some site positions stale after reset (window-close reports success before the first
        # step); one forward pass makes state, observation and labels agree.
        mujoco.mj_forward(self._env.model, self._env.data)
        obs = self._env._get_obs()
        obs[18:36] = obs[:18]
        space = self.observation_space
        self._obs = np.clip(obs, space.low, space.high).astype(np.float64)  # as Meta-World clips every step's
        self._progress.reset(self._obs)
        return self._obs.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, _reward, _term, truncated, info = self._env.step(np.asarray(action, dtype=np.float64))
        self._obs = obs
        self._progress.update(obs, info)
        return obs.copy(), 0.0, False, bool(truncated), {}

    def observation(self) -> np.ndarray:
        """The state observation the last reset or step returned (what a state policy acts on)."""
        return self._obs.copy()

    def render(self) -> np.ndarray | None:
        """The external view as an upright uint8 (H, W, 3) frame (``render_mode="rgb_array"``); None without a
        render mode."""
        return self.render_view("external") if self.render_mode == "rgb_array" else None

    def render_views(self, views: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Upright uint8 (H, W, 3) frames keyed by view name (`ALL_VIEWS`); the configured views by default."""
        return {v: self.render_view(v) for v in (self.cfg.views if views is None else views)}

    def render_view(self, view: str) -> np.ndarray:
        """One view: ``external`` and ``wrist`` are the configured cameras, ``scene`` the external camera without
        the robot."""
        check_views((view,))
        camera = self.cfg.wrist if view == "wrist" else self.cfg.external
        return self.render_camera(camera, robot=view != SCENE)

    def render_camera(self, camera: str, *, robot: bool = True) -> np.ndarray:
        """One camera as an upright uint8 (H, W, 3) frame; ``robot=False`` leaves the arm out."""
        return self._render(camera, robot).copy()

    def render_depth(self, camera: str) -> np.ndarray:
        """Metric depth (H, W) float32 of one camera, for spatial QA."""
        renderer = self._scene(camera)
        renderer.enable_depth_rendering()
        try:
            return self._render(camera).astype(np.float32)
        finally:
            renderer.disable_depth_rendering()

    def _scene(self, camera: str) -> mujoco.Renderer:
        if camera not in CAMERAS:
            raise ValueError(f"unknown camera {camera!r}; valid cameras: {', '.join(CAMERAS)}")
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self._env.model, self.cfg.size, self.cfg.size)
        return self._renderer

    def _render(self, camera: str, robot: bool = True) -> np.ndarray:
        renderer = self._scene(camera)
        renderer.update_scene(self._env.data, camera=free_camera(camera) if camera in FREE_CAMERAS else camera,
                              scene_option=None if robot else self._no_robot)
        img = renderer.render()
        return np.ascontiguousarray(img[::-1, ::-1]) if camera in _UPSIDE_DOWN else img

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._env.close()

    # --- privileged side: labels and evaluation only ------------------------------------------------------------
    def privileged(self) -> Privileged:
        """Ground truth for labels and evaluation. Never pass this to a policy or a reward model."""
        return self._progress.current()

    def object_qpos(self) -> np.ndarray:
        """Joint positions of the scene's objects (every non-robot joint), e.g. to restore them later."""
        return self._env.data.qpos[self._obj_qpos].copy()

    def set_object_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """Place the scene's objects (a vector from `object_qpos`), stop them, and relabel the current step.

        For synthesis and checks that drive objects to chosen states (undoing work, near-miss look-alikes).
        Returns the new observation."""
        data = self._env.data
        data.qpos[self._obj_qpos] = qpos
        data.qvel[self._obj_qvel] = 0.0
        mujoco.mj_normalizeQuat(self._env.model, data.qpos)
        mujoco.mj_forward(self._env.model, data)
        self._obs = self._env._get_obs()
        self._progress.relabel(self._obs)
        return self._obs.copy()

    def expert_action(self) -> np.ndarray:
        """The scripted Meta-World expert's action for the current state (privileged: it reads object state)."""
        with warnings.catch_warnings():  # the experts warn that their gains saturate the action range: expected
            warnings.filterwarnings("ignore", message=r"Constant\(s\) may be too high")
            return self._progress.expert.get_action(self._obs)

    @property
    def unwrapped_metaworld(self):  # noqa: ANN201 - the Meta-World env, for synthesis code that edits state
        return self._env


def _build(spec: TaskSpec, seed: int) -> tuple[Any, Goal | None, Any]:
    """The Meta-World env of a task, with the goal and expert of its label (None: the Meta-World task's own)."""
    if spec.fold == PROC_FOLD:
        from sole.envs.procedural import world_of
        from sole.envs.procedural.env import ProcEnv
        from sole.envs.procedural.expert import ProcExpert

        env = ProcEnv(world_of(spec.name), seed=seed)
        goal = Goal(error=lambda e, info: e.task_error(), radius=env.radius, contact=env.verb.contact)
        return env, goal, ProcExpert(env)
    from metaworld.env_dict import ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE

    return ALL_V3_ENVIRONMENTS_GOAL_OBSERVABLE[f"{spec.env_id}-goal-observable"](seed=seed), None, None


def free_camera(name: str) -> mujoco.MjvCamera:
    lookat, distance, azimuth, elevation = FREE_CAMERAS[name]
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = lookat
    cam.distance, cam.azimuth, cam.elevation = distance, azimuth, elevation
    return cam


def _robot_to_own_group(model: mujoco.MjModel) -> mujoco.MjvOption:
    """Move the robot's visible geoms and sites to `_ROBOT_GROUP` (no scene object uses it, so every view looks as
    before) and return the render option that leaves that group out."""
    root = model.body(_ROBOT_ROOT).id
    robot = np.zeros(model.nbody, bool)
    for b in range(1, model.nbody):  # parents come before children in MuJoCo's body order
        robot[b] = b == root or robot[model.body_parentid[b]]
    for group, bodies in ((model.geom_group, model.geom_bodyid), (model.site_group, model.site_bodyid)):
        if np.any(group[~robot[bodies]] == _ROBOT_GROUP):
            raise RuntimeError(f"a scene object uses render group {_ROBOT_GROUP}, kept for the robot")
        group[robot[bodies] & (group < 3)] = _ROBOT_GROUP
    option = mujoco.MjvOption()
    option.geomgroup[_ROBOT_GROUP] = option.sitegroup[_ROBOT_GROUP] = 0
    return option


def _object_addresses(model: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """qpos and qvel indices of the non-robot joints."""
    widths = {mujoco.mjtJoint.mjJNT_FREE: (7, 6), mujoco.mjtJoint.mjJNT_BALL: (4, 3)}
    qpos: list[int] = []
    qvel: list[int] = []
    for j in range(model.njnt):
        if _ROBOT_JOINT.fullmatch(model.joint(j).name or ""):
            continue
        nq, nv = widths.get(model.jnt_type[j], (1, 1))
        qpos.extend(range(model.jnt_qposadr[j], model.jnt_qposadr[j] + nq))
        qvel.extend(range(model.jnt_dofadr[j], model.jnt_dofadr[j] + nv))
    return np.array(qpos, dtype=int), np.array(qvel, dtype=int)


def make_env(task: str, *, size: int = 64, seed: int = 0, external: str = "workspace", wrist: str = "gripperPOV",
             randomize: bool = True, views: tuple[str, ...] = VIEWS, render_mode: str | None = "rgb_array") -> TaskEnv:
    return TaskEnv(EnvConfig(task=task, size=size, seed=seed, external=external, wrist=wrist, randomize=randomize,
                             views=views), render_mode=render_mode)
