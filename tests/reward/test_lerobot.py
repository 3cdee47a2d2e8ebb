import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from sole.models.base import Query, Step
from sole.reward.lerobot import SoleRewardModel
from tests.data.test_store import lerobot_python


class Brightness:
    views = ("external", "wrist")

    def __init__(self):
        self.queries: list[Query] = []

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        self.queries.extend(queries)
        return [Step(progress=float(q.current["external"].mean()) / 255) for q in queries]


def _batch(values, key="observation.images.external"):
    return {key: torch.stack([torch.full((3, 8, 8), v) for v in values]), "task": ["brighten"] * len(values)}


def test_compute_reward_streams_a_batch_of_episodes_in_lerobot_layout():
    reasoner = Brightness()
    with pytest.warns(UserWarning, match="no source for the wrist view"):
        model = SoleRewardModel("brighten the image", reasoner)
        first = model.compute_reward(_batch([0.0, 0.2]))
    assert first.dtype == torch.float32 and first.tolist() == [0.0, 0.0]  # episodes start: progress 0
    reward = model.compute_reward(_batch([0.4, 0.6]))
    assert reward == pytest.approx(torch.tensor([102 / 255, 153 / 255]))
    q = reasoner.queries[1]
    assert int(q.first["external"].mean()) == 51 and int(q.current["external"].mean()) == 153
    assert not q.current["wrist"].any() and q.current["external"].shape == (8, 8, 3)
    assert model.predict_reward(_batch([0.9, 0.1]), threshold=0.5).tolist() == [1.0, 0.0]
    model.reset()
    assert model.compute_reward(_batch([1.0])).tolist() == [0.0] and len(model.progress()) == 1
    with pytest.raises(ValueError, match="call reset\\(\\) between runs"):
        model.compute_reward(_batch([1.0, 1.0]))


def test_the_camera_key_is_found_or_asked_for():
    model = SoleRewardModel("brighten", "const:0.7", mode="delta", scale=2.0)
    model.compute_reward(_batch([0.1], key="observation.image"))
    assert model.compute_reward(_batch([0.1], key="observation.image")).tolist() == pytest.approx([1.4])
    two = {**_batch([0.1], key="observation.images.top"), **_batch([0.1], key="observation.images.side")}
    with pytest.raises(ValueError, match="name the camera for each view"):
        SoleRewardModel("brighten", "const:0.7").compute_reward(two)
    uint8 = {"observation.images.top": torch.full((1, 8, 8, 3), 255, dtype=torch.uint8)}
    model = SoleRewardModel("brighten", Brightness(), views={"external": "observation.images.top"})
    model.compute_reward(uint8)
    assert model.compute_reward(uint8).tolist() == [1.0]


HOOK_IN_LEROBOT = """
import json, torch
from lerobot.processor.core import TransitionKey
from lerobot.processor.hil_processor import RewardClassifierProcessorStep
from sole.reward.lerobot import SoleRewardModel

hook = SoleRewardModel("put the cube in the box", "const:0.9", views={"external": "observation.images.top"})
step = RewardClassifierProcessorStep(reward_classifier=hook, success_threshold=0.5, success_reward=1.0)
obs = {"observation.images.top": torch.rand(1, 3, 16, 16), "observation.state": torch.zeros(1, 4)}
t = {TransitionKey.OBSERVATION: obs, TransitionKey.REWARD: 0.0, TransitionKey.DONE: False, TransitionKey.INFO: {}}
first, second = step(t), step(t)
print(json.dumps({"first": float(first[TransitionKey.REWARD]), "second": float(second[TransitionKey.REWARD]),
                  "done": bool(second[TransitionKey.DONE]), "lerobot_reward": float(hook.compute_reward(obs)[0])}))
"""


def test_lerobots_rl_reward_step_runs_the_hook():
    python = lerobot_python()
    if python is None:
        pytest.skip("lerobot is not installed (set LEROBOT_PYTHON to a Python that has it)")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run([python, "-c", HOOK_IN_LEROBOT], capture_output=True, text=True, env=env)
    if "No module named 'torchvision'" in run.stderr:
        pytest.skip("lerobot's processor needs torchvision, which this lerobot install lacks")
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got == {"first": 0.0, "second": 1.0, "done": True, "lerobot_reward": pytest.approx(0.9)}
    assert np.isfinite(got["lerobot_reward"])
