import os

import numpy as np
import pytest

from sole.data import store
from sole.synth.episode import Episode

TASK_SET = ("window-close", "window-open", "drawer-close", "reach")

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(autouse=True, scope="session")
def _own_cache(tmp_path_factory):
    """Generated tasks are cached in a folder of the test run's own, never the user's (a test that breaks the
    generator on purpose must not leave its outcome behind)."""
    old = os.environ.get("SOLE_CACHE")
    os.environ["SOLE_CACHE"] = str(tmp_path_factory.mktemp("sole-cache"))
    yield
    if old is None:
        del os.environ["SOLE_CACHE"]
    else:
        os.environ["SOLE_CACHE"] = old


def _tiny_checkpoint(tmp_path_factory, views: tuple[str, ...]) -> str:
    """A randomly initialised tiny compact checkpoint directory reading ``views``."""
    from dataclasses import replace

    import torch

    from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
    from sole.models.tokenizer import WordTokenizer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck")
    tok = WordTokenizer.fit(["<think>t=1: the window moved 2 cm.</think><answer>5%</answer>"])
    cfg = replace(CompactConfig.tiny(), views=views)
    CompactModel.build(cfg, tok, new_goal_vocab(["close the window"])).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny compact checkpoint reading the default views (external, wrist)."""
    return _tiny_checkpoint(tmp_path_factory, ("external", "wrist"))


@pytest.fixture(scope="session")
def tiny_scene_checkpoint(tmp_path_factory):
    """A tiny compact checkpoint reading only the scene view."""
    return _tiny_checkpoint(tmp_path_factory, ("scene",))


def make_episode(index, task="drawer-open", kind="expert", n=5):
    rng = np.random.default_rng(index)
    facts = [{"t": t, "task": task, "hand": [0.1 * t, 0.6, 0.2], "gripper_open": 1.0, "obj": [0.0, 0.7, 0.1],
              "goal": [0.0, 0.9, 0.1], "hand_to_obj": 0.1, "obj_to_goal": 0.2, "grasped": False, "phase": "reach",
              "progress": t / n, "success": False} for t in range(n)]
    return Episode(task=task, kind=kind, seed=100 + index,
                   frames={v: rng.integers(0, 255, (n, 64, 64, 3), dtype=np.uint8) for v in ("external", "wrist")},
                   labels={task: np.linspace(0, 1, n, dtype=np.float32),
                           "drawer-close": np.linspace(1, 0, n, dtype=np.float32)},
                   facts=facts, actions=rng.normal(size=(n, 4)).astype(np.float32), success=index % 2 == 0,
                   index=index, meta={"sigma": 0.2})


@pytest.fixture
def dataset(tmp_path):
    """A small written dataset of three episodes in two shards (no simulator needed)."""
    eps = [make_episode(i, kind=k) for i, k in enumerate(("expert", "undo", "expert"))]
    store.write_shard(tmp_path, 0, eps[:2], [0, 5])
    store.write_shard(tmp_path, 1, eps[2:], [10])
    store.write_meta(tmp_path, [store.read_manifest(tmp_path, s) for s in (0, 1)], size=64)
    return tmp_path, eps


@pytest.fixture(scope="session")
def write_dataset():
    """Writes episodes as one complete dataset (one shard and its metadata) at a folder; returns the folder."""
    def write(root, episodes):
        store.write_shard(root, 0, episodes, [i * len(episodes[0]) for i in range(len(episodes))])
        store.write_meta(root, [store.read_manifest(root, 0)], size=episodes[0].frames["external"].shape[1])
        return root

    return write


# --- synthetic episodes for fast training and evaluation tests: a square that moves with progress ------------------
def square_episode(task: str, kind: str, index: int, T: int = 21, size: int = 64) -> Episode:
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
            eps.append(square_episode(task, "expert" if k < 2 else "failure", len(eps)))
    return eps


@pytest.fixture(scope="session")
def episode_maker():
    return square_episode


@pytest.fixture(scope="session")
def task_set():
    return TASK_SET
