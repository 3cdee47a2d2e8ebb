import os

import numpy as np
import pytest

from sole.data import store
from sole.data.episode import Episode

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
