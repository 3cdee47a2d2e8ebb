"""From a seed to a checked task: sample a world, build it, and keep it only if it is sound.

``proc:<seed>`` tries the worlds of attempts 0, 1, 2... of that seed (`layouts.sample_world`) and keeps the first
that passes every check below; each failed attempt is recorded with its reason, so generation never crashes on a
bad layout. A world is rejected when

- sampling finds no room or puts the goal off the work area (``crowded``, ``unreachable``);
- its parts interpenetrate after reset, or a loose object moves while nothing touches it (``interpenetrates``,
  ``unstable``);
- the thing the task acts on or its goal lies outside the hand's reach (``unreachable``);
- the task object is not seen by the external camera at the start or by the wrist camera at some point of the
  expert's rollout (``not visible``);
- the scripted expert does not solve it within the RL protocol's 200 env steps, or (where the scene has an opposite
  task) does not solve the opposite (``expert fails``);
- MuJoCo cannot build or step it (``build error``).

A seed's outcome is also kept on disk (``$SOLE_CACHE/procedural/worlds/<key>/<seed>.json``), so each seed is
generated once per machine rather than once per process. The key hashes the generator's source and MuJoCo's
version, so a change to either regenerates; an unreadable entry is regenerated and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import mujoco
import numpy as np

from sole.envs.procedural.env import ProcEnv
from sole.envs.procedural.expert import ProcExpert
from sole.envs.procedural.layouts import SAMPLERS, LayoutError, sample_world
from sole.envs.procedural.mjcf import cache_dir
from sole.envs.procedural.world import World, world_from_dict, world_to_dict

ATTEMPTS = 12
"""Worlds tried per seed before the seed is given up."""
ENV_STEPS = 200
"""The RL protocol's episode: 100 agent steps x action repeat 2."""
REACH_LO, REACH_HI = np.array([-0.45, 0.42, 0.0]), np.array([0.45, 0.95, 0.3])
"""Where the fingertips can work (inside Meta-World's hand limits, with a margin)."""
MIN_PIXELS = 4
"""Pixels of the task object a 64 px view must show to count as seeing it."""
VERBS_ORDER = tuple(SAMPLERS)
"""The verbs a seed draws from, with equal probability."""


@dataclass(frozen=True)
class Generated:
    """A seed's accepted world and the attempts rejected before it."""

    seed: int
    world: World | None
    rejected: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    """(attempt, reason) of every rejected attempt."""


def check_static(env: ProcEnv) -> str | None:
    """Interpenetration, stability and reach of a freshly reset world; the reason it fails, or None."""
    scene = set(env.body_geoms(*(p.name for p in env.world.prims), "mech_base", "mech", "target").tolist())
    for c in env.data.contact[: env.data.ncon]:
        if c.geom1 in scene and c.geom2 in scene and c.dist < -0.002:
            return "interpenetrates"
    for point in (env._subject_pos(), env._target_pos):
        if np.any(point < REACH_LO) or np.any(point > REACH_HI):
            return "unreachable"
    start = {p.name: env.data.body(p.name).xpos.copy() for p in env.world.prims}
    qpos, qvel = env.data.qpos.copy(), env.data.qvel.copy()
    for _ in range(10):
        mujoco.mj_step(env.model, env.data, nstep=env.frame_skip)
    moved = any(np.linalg.norm(env.data.body(n).xpos - x) > 0.01 for n, x in start.items())
    env.set_state(qpos, qvel)
    return "unstable" if moved else None


def _sees(renderer: mujoco.Renderer, env: ProcEnv, camera: mujoco.MjvCamera | str, geoms: np.ndarray) -> bool:
    renderer.update_scene(env.data, camera=camera)
    seg = renderer.render()[..., 0]
    return int(np.isin(seg, geoms).sum()) >= MIN_PIXELS


def run_expert(env: ProcEnv, renderer: mujoco.Renderer | None = None) -> tuple[bool, bool]:
    """Reset and run the expert for `ENV_STEPS`: (solved, the wrist camera saw the task object at some frame)."""
    env.reset()
    expert, geoms = ProcExpert(env), env.body_geoms(env.task_body())
    solved = seen = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(ENV_STEPS):
            _, _, _, _, info = env.step(expert.get_action())
            solved = solved or bool(info["success"])
            if renderer is not None and not seen and t % 10 == 0:
                seen = _sees(renderer, env, "gripperPOV", geoms)
    return solved, seen


def check_world(world: World) -> str | None:
    """Build ``world`` and run every check; the reason it is rejected, or None if it is sound."""
    from sole.envs.sim import fast_render_settings, free_camera

    env = ProcEnv(world, seed=0)
    renderer = None
    try:
        reason = check_static(env)
        if reason:
            return reason
        fast_render_settings(env.model)
        renderer = mujoco.Renderer(env.model, 64, 64)
        renderer.enable_segmentation_rendering()
        env.reset()
        if not _sees(renderer, env, free_camera("workspace"), env.body_geoms(env.task_body())):
            return "not visible: external view"
        solved, seen = run_expert(env, renderer)
        if not solved:
            return "expert fails"
        return None if seen else "not visible: wrist view"
    finally:
        if renderer is not None:
            renderer.close()
        env.close()


def attempt(seed: int, k: int, verbs: tuple[str, ...] = VERBS_ORDER) -> World | str:
    """Attempt ``k`` of ``seed``: its world if sound, else the reason it was rejected."""
    try:
        world = sample_world(seed, k, verbs)
        reason = check_world(world)
        if reason is None and world.has_opposite:
            reason = check_world(world.opposite())
            reason = reason and f"{reason} (opposite)"
    except LayoutError as e:
        return str(e).split(":")[0]
    except (ValueError, RuntimeError, mujoco.FatalError) as e:  # a model MuJoCo rejects or a simulation blow-up
        return f"build error: {type(e).__name__}"
    return world if reason is None else reason


@lru_cache(maxsize=512)
def generate(seed: int, verbs: tuple[str, ...] = VERBS_ORDER) -> Generated:
    """The first sound world of ``seed`` and the rejected attempts before it (world None if all failed); read from
    the disk cache when this generator has made it before."""
    path = cache_dir() / "worlds" / cache_key(verbs) / f"{seed}.json"
    cached = _read(path, seed)
    if cached is not None:
        return cached
    gen = _search(seed, verbs)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"seed": seed, "world": gen.world and world_to_dict(gen.world),
                               "rejected": [list(r) for r in gen.rejected]}))
    os.replace(tmp, path)
    return gen


@lru_cache(maxsize=8)
def cache_key(verbs: tuple[str, ...]) -> str:
    """Names the generator that made a cached world: its source files, MuJoCo's version and the verbs drawn from."""
    h = hashlib.sha1(f"{mujoco.__version__}|{','.join(verbs)}".encode())
    for src in sorted(Path(__file__).parent.glob("*.py")):
        h.update(src.read_bytes())
    return h.hexdigest()[:16]


def _read(path: Path, seed: int) -> Generated | None:
    try:
        d = json.loads(path.read_text())
        world = d["world"] and world_from_dict(d["world"])
        return Generated(seed, world, tuple((int(k), str(r)) for k, r in d["rejected"]))
    except (OSError, ValueError, KeyError, TypeError):  # absent or unreadable: generate it again
        return None


def _search(seed: int, verbs: tuple[str, ...]) -> Generated:
    rejected = []
    for k in range(ATTEMPTS):
        result = attempt(seed, k, verbs)
        if isinstance(result, World):
            return Generated(seed, result, tuple(rejected))
        rejected.append((k, result))
    return Generated(seed, None, tuple(rejected))
