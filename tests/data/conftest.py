"""Synthetic episodes and a small written dataset, shared by the data tests (no simulator needed)."""

import numpy as np
import pytest

from sole.data import store
from sole.data.episode import Episode


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
    eps = [make_episode(i, kind=k) for i, k in enumerate(("expert", "undo", "expert"))]
    store.write_shard(tmp_path, 0, eps[:2], [0, 5])
    store.write_shard(tmp_path, 1, eps[2:], [10])
    store.write_meta(tmp_path, [store.read_manifest(tmp_path, s) for s in (0, 1)], size=64)
    return tmp_path, eps
