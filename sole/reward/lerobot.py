"""sole's progress as a LeRobot reward model: `SoleRewardModel` has the reward-model shape LeRobot's RL calls.

LeRobot 0.4.4's reward classifier is called as ``predict_reward(batch, threshold) -> Tensor[B]`` (success 0/1, by
`RewardClassifierProcessorStep` in its RL loop); the newer ``lerobot.rewards`` interface is
``compute_reward(batch) -> Tensor[B]`` and ``reset()``. This class answers all three. A batch holds one step of B
episodes: camera images keyed as in a LeRobot dataset (``observation.images.<name>``), each (B, C, H, W) float in
[0, 1] or uint8. The first batch after `reset` starts the episodes at their first frames (reward 0); every later
batch is one step of the same episodes, streamed through the `Rewarder` as in `sole rl` (first, previous and current
frame, the previous answer fed back).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from sole.models.base import Reasoner
from sole.reward.gym import Settings, StreamingReward


class SoleRewardModel:
    """A reasoner's progress on ``goal`` as a LeRobot reward model.

    ``views`` maps the reasoner's views to batch keys (default: ``observation.images.<view>`` for each view the
    batch has, or the batch's one image key for the first view); ``threshold`` is the progress `predict_reward`
    calls success. Other keywords are `sole.reward.gym.Settings` fields (every, mode, scale, think).
    """

    def __init__(self, goal: str, reasoner: str | Reasoner = "compact", *, views: Mapping[str, str] | None = None,
                 threshold: float = 0.8, **settings: Any):
        from sole.models.registry import load_reasoner

        self.goal, self.views, self.threshold = goal, views, threshold
        self.reasoner = load_reasoner(reasoner) if isinstance(reasoner, str) else reasoner
        self.settings = Settings(**settings)
        self.reader: StreamingReward | None = None

    def reset(self) -> None:
        """Forget the episodes: the next batch starts new ones."""
        self.reader = None

    def compute_reward(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """The reward of each of the batch's B episodes at this step, float32 (B,)."""
        keys = dict(self.views) if self.views is not None else self._default_views(batch)
        images = {k: _uint8_hwc(batch[k]) for k in keys.values()}
        n = len(next(iter(images.values())))
        rows = [{k: img[i] for k, img in images.items()} for i in range(n)]
        if self.reader is None:
            self.reader = StreamingReward(self.goal, self.reasoner, keys, self.settings, n, None)
            for i, row in enumerate(rows):
                self.reader.reset(i, self.reader.frames(row, None))
            return torch.zeros(n)
        if n != self.reader.rewarder.n:
            raise ValueError(f"the batch holds {n} episodes, the episodes started with {self.reader.rewarder.n}; "
                             "call reset() between runs of different batch sizes")
        due = [self.reader.due(i, last=False) for i in range(n)]
        frames = [self.reader.frames(row, None) if d else None for row, d in zip(rows, due, strict=True)]
        return torch.as_tensor(self.reader.step(frames), dtype=torch.float32)

    def predict_reward(self, batch: Mapping[str, Any], threshold: float | None = None) -> torch.Tensor:
        """Success (1.0) where the progress after this step reaches ``threshold`` (default: the model's), else 0.0,
        as LeRobot's reward classifier answers."""
        self.compute_reward(batch)
        assert self.reader is not None
        cut = self.threshold if threshold is None else threshold
        return torch.as_tensor(self.reader.rewarder.progress >= cut, dtype=torch.float32)

    def progress(self) -> np.ndarray:
        """The current progress of each episode (B,)."""
        return np.zeros(0) if self.reader is None else self.reader.rewarder.progress.copy()

    def _default_views(self, batch: Mapping[str, Any]) -> dict[str, str]:
        named = {v: f"observation.images.{v}" for v in self.reasoner.views if f"observation.images.{v}" in batch}
        if named:
            return named
        cameras = [k for k in batch if k.startswith("observation.image")]
        if len(cameras) != 1:
            raise ValueError(f"name the camera for each view with views={{VIEW: KEY}}; the batch has image keys "
                             f"{cameras or 'none'} and the reasoner reads {', '.join(self.reasoner.views)}")
        return {self.reasoner.views[0]: cameras[0]}


def _uint8_hwc(images: Any) -> np.ndarray:
    """(B, C, H, W) float in [0, 1] (LeRobot's layout) or uint8 images as uint8 (B, H, W, C)."""
    x = torch.as_tensor(images).detach().cpu()
    if x.is_floating_point():
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    if x.ndim != 4:
        raise ValueError(f"camera images must be a batch (B, C, H, W), got shape {tuple(x.shape)}")
    return (x.permute(0, 2, 3, 1) if x.shape[1] == 3 and x.shape[-1] != 3 else x).numpy()
