"""Synthetic episodes (a square that moves with progress) and a stand-in CoT writer, for fast training tests."""

import sys
import types

import numpy as np
import pytest

from sole.data.episode import Episode

TASK_SET = ("window-close", "window-open", "drawer-close", "reach")


def _fake_make_cot(goal_task, goal_text, facts_prev, facts_cur, prev_progress, progress, rng):
    moved = round(100 * abs(facts_cur["hand"][0] - facts_prev["hand"][0]))
    return (f"<think>t={facts_cur['t']}: the hand moved {moved} cm; {goal_text}.</think>"
            f"<answer>{round(100 * progress)}%</answer>")


@pytest.fixture(autouse=True)
def cot_module(monkeypatch):
    """Use the synthesis CoT writer when it exists, a stand-in otherwise."""
    try:
        import sole.synth.cot  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "sole.synth.cot", types.SimpleNamespace(make_cot=_fake_make_cot))


def make_episode(task: str, kind: str, index: int, T: int = 21, size: int = 64) -> Episode:
    rng = np.random.default_rng(index)
    p = np.linspace(0, 1, T).astype(np.float32) if kind == "expert" else rng.uniform(0, 0.2, T).astype(np.float32)
    frames = {}
    for v, colour in (("external", (255, 0, 0)), ("wrist", (0, 255, 0))):
        f = np.full((T, size, size, 3), 40, np.uint8)
        for t in range(T):
            x = int(4 + p[t] * (size - 16))
            f[t, 20:32, x:x + 12] = colour
        frames[v] = f
    labels = {task: p}
    if task in ("window-close", "window-open"):
        labels["window-open" if task == "window-close" else "window-close"] = 1 - p
    facts = [{"t": t, "hand": (float(p[t]), 0.0, 0.0), "gripper_open": 1.0, "obj": (0.0, 0.0, 0.0),
              "goal": (1.0, 0.0, 0.0), "hand_to_obj": 0.0, "obj_to_goal": float(1 - p[t]), "grasped": False,
              "phase": "move", "progress": float(p[t]), "success": bool(p[t] >= 0.95)} for t in range(T)]
    return Episode(task=task, kind=kind, seed=index, frames=frames, labels=labels, facts=facts,
                   actions=np.zeros((T, 4), np.float32), success=bool(p[-1] >= 0.95), index=index)


@pytest.fixture(scope="session")
def episodes():
    eps = []
    for task in TASK_SET:
        for k in range(3):
            eps.append(make_episode(task, "expert" if k < 2 else "failure", len(eps)))
    return eps


@pytest.fixture(scope="session")
def episode_maker():
    return make_episode


@pytest.fixture(scope="session")
def task_set():
    return TASK_SET
