"""Rollout kinds: small policies and video transforms over a `TaskEnv`, each labelled with the truth.

Protocol (the RL protocol's view of time): ``ENV_STEPS`` = 200 env steps (100 agent steps x action repeat 2),
one frame after reset and one after every ``FRAME_EVERY`` = 2 env steps, so an episode has 101 frames of each
of the env's views (`EnvConfig.views`: external and wrist by default). Frame ``t``'s label is the privileged
progress of the simulator state at that frame.

Kinds (registry `KINDS`): a policy that drives the env, optionally followed by a transform of the recorded video.

- ``expert``: the scripted Meta-World expert until the task is first solved, then holding still (the experts keep
  acting after success and often undo it).
- ``noisy``: the expert plus Gaussian action noise (sigma drawn per episode).
- ``pause``: the expert with one to three stalls (hand held still, gripper kept) inserted.
- ``partial``: the expert until progress first reaches a drawn level in [0.2, 0.6], then it idles.
- ``undo``: the expert for 70-120 env steps, then its actions replayed backwards with the motion negated and the
  gripper kept, so a carried object is carried back (progress falls where the object follows the hand).
- ``failure``: random actions, an aimless smooth random walk, or a reach to a wrong region of the table.
- ``hover`` (hacking look-alike): the open gripper driven to the goal site without the object (for reach tasks,
  to a point 10 cm above the goal, since the hand *is* the object there).
- ``near-miss`` (hacking look-alike): the expert until progress first reaches a drawn level in [0.6, 0.8], then
  the gripper opens and backs away, leaving the object short of the goal.
- ``look-away`` (hacking look-alike): the open gripper raised to the top of the workspace on the side away from
  the object, so the wrist camera no longer sees it: a pose that looks done to a reader of the wrist view. The
  object is untouched.
- ``frozen`` (hacking look-alike): an expert video whose camera stalls for 15-40 frames: the last frame before
  the stall is repeated while time goes on. **Label decision**: during the stall the label and facts are held at
  the frozen frame's values, because a label must describe what the video shows and a stalled camera shows no
  change; when the camera resumes, the label jumps to the true state. A frozen camera therefore never earns
  progress that the frames do not show.
- ``occluded`` (hacking look-alike): an expert video with a black square (20-36 px) over the external camera's
  views from a drawn frame on; labels unchanged (the state is what it is; the wrist view still sees it).
- ``reversed``: an expert video played backwards, frames, labels and facts reversed together (progress falls).

Counterfactual labels: every task sharing the scene (`scene_goals`) is labelled along the same video. All such
pairs in Meta-World are opposite verbs on the same object (window-open / window-close), and each task starts
where its opposite ends, so the opposite goal's progress is ``1 - move``, ``move`` being the own task's
object-state term (how far the object went from its start to the own goal). "Open the window" on a closing
video starts at 1 and falls to 0 as the window closes; the hand's position plays no part. Goals of other scenes
are mismatches whose label is 0 (`Episode.label`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sole.envs.progress import SOLVED_FLOOR
from sole.envs.sim import TaskEnv
from sole.envs.tasks import get_task, scene_goals
from sole.synth.episode import Episode

ENV_STEPS = 200
"""Env steps per episode: 100 agent steps x action repeat 2."""
FRAME_EVERY = 2
"""One frame per agent step."""
N_FRAMES = ENV_STEPS // FRAME_EVERY + 1

Policy = Callable[[int], np.ndarray]
"""Env step index -> action (4,), in [-1, 1]."""
PolicyFactory = Callable[[TaskEnv, np.random.Generator, dict, int], Policy]
"""Builds one episode's policy for an episode of so many env steps; writes its drawn parameters into the meta dict."""
Transform = Callable[[Episode, np.random.Generator], Episode]
"""Edits a recorded episode's video (and, where the video shows something else, its labels and facts)."""


@dataclass
class Recording:
    """What one rollout saw, frame by frame."""

    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    facts: list[dict[str, Any]] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)
    move: list[float] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    success: bool = False


# --- recording ------------------------------------------------------------------------------------------------
def _capture(env: TaskEnv, rec: Recording, action: np.ndarray) -> None:
    for view, img in env.render_views().items():
        rec.frames.setdefault(view, []).append(img)
    p = env.privileged()
    facts = p.facts.to_dict()
    facts["t"] = len(rec.facts)  # frame index: the time anchor the reasoning uses
    facts["task"] = env.spec_task.name
    rec.facts.append(facts)
    rec.progress.append(float(p.progress))
    rec.move.append(float(p.terms["move"]))
    rec.actions.append(np.asarray(action, np.float32))
    rec.success = rec.success or p.ever_success


def record(env: TaskEnv, policy: Policy, steps: int = ENV_STEPS, every: int = FRAME_EVERY) -> Recording:
    """Run ``policy`` for ``steps`` env steps from the current (freshly reset) state, capturing every ``every``."""
    rec = Recording()
    _capture(env, rec, np.zeros(4))
    for i in range(steps):
        action = np.clip(np.asarray(policy(i), np.float64), -1.0, 1.0)
        env.step(action)
        if (i + 1) % every == 0:
            _capture(env, rec, action)
    return rec


def counterfactual_labels(task: str, progress: np.ndarray, move: np.ndarray) -> dict[str, np.ndarray]:
    """Progress labels of every goal sharing ``task``'s scene, from the own label and object-state term."""
    spec = get_task(task)
    labels = {task: progress.astype(np.float32)}
    for other in scene_goals(task)[1:]:
        if other != spec.opposite:
            raise ValueError(f"no counterfactual label rule for {other!r} in the scene of {task!r}")
        labels[other] = np.clip(1.0 - move, 0.0, 1.0).astype(np.float32)
    return labels


def to_episode(task: str, kind: str, seed: int, rec: Recording, index: int = 0,
               meta: dict[str, Any] | None = None) -> Episode:
    return Episode(
        task=task, kind=kind, seed=seed,
        frames={v: np.stack(f) for v, f in rec.frames.items()},
        labels=counterfactual_labels(task, np.asarray(rec.progress), np.asarray(rec.move)),
        facts=rec.facts, actions=np.stack(rec.actions), success=rec.success, index=index, meta=meta or {},
    )


# --- policies ---------------------------------------------------------------------------------------------------
def _hold(grip: float) -> np.ndarray:
    return np.array([0.0, 0.0, 0.0, grip])


def _toward(env: TaskEnv, target: np.ndarray, grip: float, gain: float = 10.0) -> np.ndarray:
    hand = np.asarray(env.privileged().facts.hand)
    return np.concatenate([np.clip(gain * (target - hand), -1.0, 1.0), [grip]])


def _expert(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    # Meta-World's experts keep acting after success and often undo it (a released handle springs back, a faucet
    # turns on past its goal); a demonstration should end solved, so it holds still once the task is solved.
    return _stop_at(env, SOLVED_FLOOR, lambda k, grip: _hold(grip))


def _noisy(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    sigma = meta["sigma"] = round(float(rng.uniform(0.1, 0.5)), 3)
    return lambda i: env.expert_action() + rng.normal(0.0, sigma, 4)


def _pause(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    stalls = sorted((int(rng.integers(0, max(steps - 20, 1))), int(rng.integers(steps // 20, steps // 5 + 1)))
                    for _ in range(int(rng.integers(1, 4))))
    meta["stalls"] = stalls
    stalled = {i for s, n in stalls for i in range(s, s + n)}
    last = {"grip": -1.0}

    def policy(i: int) -> np.ndarray:
        if i in stalled:
            return _hold(last["grip"])
        action = env.expert_action()
        last["grip"] = float(action[3])
        return action
    return policy


def _stop_at(env: TaskEnv, level: float, after: Callable[[int, float], np.ndarray]) -> Policy:
    """The expert until progress first reaches ``level``; then ``after(steps since stop, gripper)``."""
    state: dict[str, Any] = {"stop": None, "grip": -1.0}

    def policy(i: int) -> np.ndarray:
        if state["stop"] is None and env.privileged().progress >= level:
            state["stop"] = i
        if state["stop"] is not None:
            return after(i - state["stop"], state["grip"])
        action = env.expert_action()
        state["grip"] = float(action[3])
        return action
    return policy


def _partial(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    level = meta["stop_level"] = round(float(rng.uniform(0.2, 0.6)), 3)
    return _stop_at(env, level, lambda k, grip: _hold(grip))


def _near_miss(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    level = meta["stop_level"] = round(float(rng.uniform(0.6, 0.8)), 3)
    # Open the gripper, then back up and away for 15 env steps, then stay.
    return _stop_at(env, level, lambda k, grip: np.array([0.0, -0.5, 0.6, -1.0]) if k < 15 else _hold(-1.0))


def _undo(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    turn = meta["turn"] = int(rng.integers(int(0.35 * steps), int(0.6 * steps) + 1))
    done: list[np.ndarray] = []

    def policy(i: int) -> np.ndarray:
        if i < turn:
            done.append(env.expert_action())
            return done[-1]
        back = done[max(turn - 1 - (i - turn), 0)]
        return np.concatenate([-back[:3], back[3:]])
    return policy


_WORKSPACE = (np.array([-0.35, 0.45, 0.05]), np.array([0.35, 0.85, 0.3]))


def _wrong_target(env: TaskEnv, rng: np.random.Generator) -> np.ndarray:
    facts = env.privileged().facts
    target = rng.uniform(*_WORKSPACE)
    for _ in range(100):
        if min(np.linalg.norm(target - np.asarray(facts.obj)), np.linalg.norm(target - np.asarray(facts.goal))) > 0.15:
            break
        target = rng.uniform(*_WORKSPACE)
    return target


def _failure(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    mode = meta["mode"] = str(rng.choice(["random", "wander", "wrong-region"]))
    if mode == "random":
        return lambda i: rng.uniform(-1.0, 1.0, 4)
    if mode == "wander":
        walk = {"a": np.zeros(4)}

        def wander(i: int) -> np.ndarray:
            walk["a"] = 0.9 * walk["a"] + 0.3 * rng.normal(0.0, 1.0, 4)
            return walk["a"]
        return wander
    target, grip = _wrong_target(env, rng), float(rng.choice([-1.0, 1.0]))
    meta["target"] = [round(float(v), 3) for v in target]
    return lambda i: _toward(env, target, grip) + np.concatenate([rng.normal(0.0, 0.1, 3), [0.0]])


def _hover(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    lift = 0.1 if env.spec_task.phases == "reach" else 0.0
    target = np.asarray(env.privileged().facts.goal) + np.array([0.0, 0.0, lift])
    return lambda i: _toward(env, target, -1.0)


def _look_away(env: TaskEnv, rng: np.random.Generator, meta: dict, steps: int) -> Policy:
    obj = np.asarray(env.privileged().facts.obj)
    lo, hi = _WORKSPACE
    side = hi[0] if obj[0] < 0 else lo[0]
    target = np.array([side, lo[1], hi[2]]) + rng.uniform(-0.05, 0.05, 3)
    meta["target"] = [round(float(v), 3) for v in target]
    return lambda i: _toward(env, target, -1.0)


# --- video transforms -------------------------------------------------------------------------------------------
def _freeze(ep: Episode, rng: np.random.Generator) -> Episode:
    n = len(ep)
    start, length = int(rng.integers(max(n // 10, 1), int(0.6 * n))), int(rng.integers(int(0.15 * n), int(0.4 * n) + 1))
    stop = min(start + length, n)
    ep.meta["frozen"] = [start, stop]
    for view in ep.frames:
        ep.frames[view][start:stop] = ep.frames[view][start - 1]
    for goal in ep.labels:
        ep.labels[goal][start:stop] = ep.labels[goal][start - 1]
    ep.facts = [ep.facts[t] if not start <= t < stop else {**ep.facts[start - 1], "t": t} for t in range(n)]
    return ep


def _occlude(ep: Episode, rng: np.random.Generator) -> Episode:
    """The same box over each view of the external camera (``external`` and, where recorded, ``scene``)."""
    outside = [frames for view, frames in ep.frames.items() if view != "wrist"]
    if not outside:
        raise ValueError("the occluded kind needs a view of the external camera (external or scene) to occlude")
    size = int(rng.integers(20, 37))
    y, x = (int(rng.integers(0, outside[0].shape[i] - size + 1)) for i in (1, 2))
    start = int(rng.integers(0, len(ep) // 2))
    for frames in outside:
        frames[start:, y:y + size, x:x + size] = 0
    ep.meta["occluded"] = {"from": start, "box": [y, x, size]}
    return ep


def _reverse(ep: Episode, rng: np.random.Generator) -> Episode:
    facts = [{**f, "t": t} for t, f in enumerate(reversed(ep.facts))]
    # Row t of actions leads to frame t; played backwards, the move into frame t undoes the original move out of it.
    back = -ep.actions[::-1][:-1].copy()
    back[:, 3] *= -1
    actions = np.concatenate([np.zeros((1, ep.actions.shape[1]), ep.actions.dtype), back])
    return replace(ep, frames={v: f[::-1].copy() for v, f in ep.frames.items()},
                   labels={g: lab[::-1].copy() for g, lab in ep.labels.items()}, facts=facts, actions=actions)


KINDS: dict[str, tuple[PolicyFactory, Transform | None]] = {
    "expert": (_expert, None),
    "noisy": (_noisy, None),
    "pause": (_pause, None),
    "partial": (_partial, None),
    "undo": (_undo, None),
    "failure": (_failure, None),
    "hover": (_hover, None),
    "near-miss": (_near_miss, None),
    "look-away": (_look_away, None),
    "frozen": (_expert, _freeze),
    "occluded": (_expert, _occlude),
    "reversed": (_expert, _reverse),
}
"""Rollout kind -> (policy that drives the env, transform of the recorded episode)."""

EVAL_KINDS = ("expert", "noisy", "pause", "partial", "undo", "failure", "hover", "near-miss", "frozen", "occluded",
              "reversed")
"""Kinds of a synthesized evaluation split. Fixed, so that one command keeps writing the same split (seeds follow
the episode order); ``look-away`` is written into a split with ``--mix``."""


def check_kinds(kinds: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"unknown rollout kind {kind!r}; valid kinds: {', '.join(KINDS)}")
    return tuple(kinds)


def rollout(env: TaskEnv, kind: str, seed: int, index: int = 0, steps: int = ENV_STEPS) -> Episode:
    """One episode of ``kind`` on ``env``'s task; ``seed`` fixes the layout and every random draw.

    ``steps`` env steps give ``steps // FRAME_EVERY + 1`` frames; anything but `ENV_STEPS` is for quick tests.
    """
    check_kinds([kind])
    policy_factory, transform = KINDS[kind]
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    meta: dict[str, Any] = {}
    rec = record(env, policy_factory(env, rng, meta, steps), steps)
    ep = to_episode(env.spec_task.name, kind, seed, rec, index, meta)
    return transform(ep, rng) if transform is not None else ep
