"""Foundation QA: spatial questions on one frame with its depth map, temporal questions on frame pairs and clips.

Same record shape as the progress records (`sole.train.records`): ``prompt``, ``image`` (uint8), ``completion``
(``<answer>...</answer>``), plus ``answer``, ``qa`` (the question kind), ``task``, ``kind``, ``episode``, ``t``.
Every answer is computed from privileged state, and a question is only asked where the answer is clear-cut
(positions that differ by a few pixels or centimetres are skipped), so the data has no coin-flip labels.

- Spatial (`spatial_records`, needs the simulator): where the gripper is relative to the object in the external
  view (left/right in the image, above/below, nearer the camera), where the object is relative to the goal, is the
  gripper open, is the object held, how far the gripper is from the object. Image: external RGB | depth map.
- Temporal (`temporal_records`, from a stored `Episode`): which of two frames came first, did the object get
  closer to the goal between two frames, is a 4-frame clip playing forwards or backwards.

The questions about a stored episode (`temporal_questions`, and `fact_questions`: the spatial ones answerable from
the stored facts alone) name their frames by index, so the compact reasoner can train on them too
(`sole.train.qa`); the records lay those frames side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sole.envs.sim import _UPSIDE_DOWN, TaskEnv
from sole.envs.tasks import get_task
from sole.synth.episode import Episode

Point = tuple[float, float, float]
"""(u, v, depth): column and row in the displayed image, metres along the camera axis."""
MIN_PX = 3.0
MIN_M = 0.02
DEPTH_RANGE = 0.8
"""Metres of depth spanned by the grey ramp of a depth image (the workspace, not the far background)."""
STILL_KINDS = ("frozen",)
"""Kinds whose frames do not follow physical time (frozen repeats frames), so they get no temporal questions. Every
other kind, mined policy rollouts included, runs forwards, except reversed, which runs backwards and is asked so."""


def project(env: TaskEnv, camera: str, points: dict[str, Any]) -> dict[str, Point]:
    """World points -> (u, v, depth) in ``camera``'s displayed image, for Meta-World's and our free cameras.

    Uses the GL camera of the scene the env's renderer just drew (so it matches the image exactly, flips
    included); the env has no public accessor for it yet, hence the private attribute.
    """
    env.render_camera(camera)
    cam = env._renderer.scene.camera[0]  # noqa: SLF001 - see docstring
    pos, forward, up = np.asarray(cam.pos), np.asarray(cam.forward), np.asarray(cam.up)
    right = np.cross(forward, up)
    size = env.cfg.size
    focal = (size / 2) * cam.frustum_near / cam.frustum_top  # square image: frustum half-width = half-height
    out = {}
    for name, p in points.items():
        d = np.asarray(p, float) - pos
        z = float(d @ forward)
        u, v = size / 2 + focal * float(d @ right) / z, size / 2 - focal * float(d @ up) / z
        if camera in _UPSIDE_DOWN:
            u, v = size - 1 - u, size - 1 - v
        out[name] = (float(u), float(v), z)
    return out


Question = Callable[[dict[str, Any], dict[str, Point], str], tuple[str, str] | None]


def _side(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    du = px["hand"][0] - px["obj"][0]
    return None if abs(du) < MIN_PX else (f"Is the gripper left or right of the {obj} in the image?",
                                         "left" if du < 0 else "right")


def _height(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    dz = facts["hand"][2] - facts["obj"][2]
    return None if abs(dz) < MIN_M else (f"Is the gripper above or below the {obj}?", "above" if dz > 0 else "below")


def _nearer(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    dd = px["hand"][2] - px["obj"][2]
    return None if abs(dd) < MIN_M else (f"Which is nearer the camera, the gripper or the {obj}?",
                                         "the gripper" if dd < 0 else f"the {obj}")


def _goal_side(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    du = px["goal"][0] - px["obj"][0]
    return None if abs(du) < MIN_PX or obj == "goal" else (
        f"Is the goal left or right of the {obj} in the image?", "left" if du < 0 else "right")


def _open(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    g = facts["gripper_open"]
    return ("Is the gripper open or closed?", "open" if g > 0.6 else "closed") if g > 0.6 or g < 0.3 else None


def _held(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    pick = get_task(facts["task"]).phases == "pick"
    return (f"Is the {obj} held by the gripper?", "yes" if facts["grasped"] else "no") if pick else None


def _distance(facts: dict, px: dict[str, Point], obj: str) -> tuple[str, str] | None:
    return None if obj == "goal" else (f"How far is the gripper from the {obj}, in cm?",
                                       f"{round(100 * facts['hand_to_obj'])} cm")


SPATIAL: dict[str, Question] = {"side": _side, "height": _height, "nearer": _nearer, "goal-side": _goal_side,
                                "open": _open, "held": _held, "distance": _distance}
"""Spatial question kind -> (question, answer) from the facts and projected points, or None where unclear."""
FACT_KINDS = ("height", "open", "held", "distance")
"""Spatial kinds answered from the facts alone (no projected points), so they can be asked of stored episodes."""


@dataclass(frozen=True)
class FrameQuestion:
    """A question about frames of a stored episode and its answer; ``frames`` index the episode, in shown order."""

    qa: str
    question: str
    answer: str
    frames: tuple[int, ...]
    t: int
    """The step the question is about."""


def _depth_image(depth: np.ndarray) -> np.ndarray:
    """Depth (H, W) metres -> uint8 grey (H, W, 3): the nearest point white, DEPTH_RANGE beyond it black."""
    grey = 255 * (1 - np.clip((depth - float(depth.min())) / DEPTH_RANGE, 0, 1))
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)


def _record(prompt: str, image: np.ndarray, answer: str, qa: str, task: str, kind: str, episode: int,
            t: int) -> dict[str, Any]:
    return {"prompt": prompt, "image": image, "completion": f"<answer>{answer}</answer>", "answer": answer, "qa": qa,
            "task": task, "kind": kind, "episode": episode, "t": t}


def spatial_records(env: TaskEnv, seed: int, frames: int = 6, steps: int = 200) -> list[dict[str, Any]]:
    """Spatial QA along one noisy-expert rollout of ``env``'s task, at ``frames`` evenly spread steps."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    obj = env.spec_task.obj
    at = set(np.linspace(0, steps, frames).astype(int).tolist())
    records = []
    for i in range(steps + 1):
        if i in at:
            facts = {**env.privileged().facts.to_dict(), "task": env.spec_task.name, "t": i}
            px = project(env, env.cfg.external, {"hand": facts["hand"], "obj": facts["obj"], "goal": facts["goal"]})
            image = np.concatenate([env.render_camera(env.cfg.external),
                                    _depth_image(env.render_depth(env.cfg.external))], axis=1)
            for qa, question in SPATIAL.items():
                qa_pair = question(facts, px, obj)
                if qa_pair is not None:
                    prompt = f"The left image is the external camera view, the right one its depth map. {qa_pair[0]}"
                    records.append(_record(prompt, image, qa_pair[1], qa, env.spec_task.name, "spatial", seed, i))
        if i < steps:
            env.step(np.clip(env.expert_action() + rng.normal(0, 0.3, 4), -1, 1))
    return records


def _moved(ep: Episode, a: int, b: int) -> bool:
    """Whether anything visible moved between frames a and b (hand >= 3 cm or object >= 1 cm)."""
    fa, fb = ep.facts[a], ep.facts[b]
    return (np.linalg.norm(np.subtract(fa["hand"], fb["hand"])) >= 0.03
            or np.linalg.norm(np.subtract(fa["obj"], fb["obj"])) >= 0.01)


TEMPORAL_LAYOUT = {"order": "Two frames of one video.", "object-moved": "Left frame, then right frame.",
                   "backwards": "Frames of a clip, left to right."}
"""How a record lays out a temporal question's frames, said before the question."""


def fact_questions(ep: Episode, t: int) -> list[FrameQuestion]:
    """The `FACT_KINDS` questions about step ``t`` of ``ep`` that have a clear-cut answer."""
    obj = get_task(ep.task).obj
    asked = ((kind, SPATIAL[kind](ep.step_facts(t), {}, obj)) for kind in FACT_KINDS)
    return [FrameQuestion(kind, q[0], q[1], (t,), t) for kind, q in asked if q is not None]


def temporal_questions(ep: Episode, rng: np.random.Generator, n: int = 6, gap: int = 10) -> list[FrameQuestion]:
    """Up to ``n`` temporal questions per kind on frames of ``ep`` that are ``gap`` frames apart."""
    if ep.kind in STILL_KINDS:
        return []
    backwards = ep.kind == "reversed"
    obj = get_task(ep.task).obj
    questions = []
    starts = rng.permutation(max(len(ep) - 3 * gap, 1))[:n]
    for a in starts.tolist():
        b = a + gap
        if not _moved(ep, a, b):
            continue
        swap = bool(rng.integers(2))
        first = "right" if swap != backwards else "left"
        questions.append(FrameQuestion("order", "Which came first, the left or the right one?", first,
                                       (b, a) if swap else (a, b), b))
        d = ep.facts[b]["obj_to_goal"] - ep.facts[a]["obj_to_goal"]
        cm = round(100 * abs(d))
        answer = "no, it did not move toward or away from it" if cm == 0 else (
            f"yes, {cm} cm closer" if d < 0 else f"no, it moved {cm} cm away")
        if obj != "goal":
            questions.append(FrameQuestion("object-moved", f"Did the {obj} get closer to the goal?", answer, (a, b),
                                           b))
        clip = [a, a + gap // 2, b, b + gap // 2] if b + gap // 2 < len(ep) else [a, b]
        flip = bool(rng.integers(2))
        questions.append(FrameQuestion("backwards", "Is it playing forwards or backwards?",
                                       "backwards" if flip != backwards else "forwards",
                                       tuple(clip[::-1] if flip else clip), b))
    return questions


def temporal_records(ep: Episode, rng: np.random.Generator, n: int = 6, gap: int = 10) -> list[dict[str, Any]]:
    """`temporal_questions` as records: the question's frames of the external view side by side."""
    ext = ep.frames["external"]
    return [_record(f"{TEMPORAL_LAYOUT[q.qa]} {q.question}", np.concatenate([ext[i] for i in q.frames], axis=1),
                    q.answer, q.qa, ep.task, ep.kind, ep.index, q.t) for q in temporal_questions(ep, rng, n, gap)]
