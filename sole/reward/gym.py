"""A sole reward for any environment: a free-text goal and a reasoner turn an env's frames into a dense reward.

`SoleReward` wraps one gymnasium env, `SoleRewardVecEnv` an SB3 vector of them; both stream through the same
`Rewarder` as `sole rl` does (first, previous and current frame, the previous answer fed back, queried every
``every``-th step and at an episode's end). Frames come from ``render()`` (``render_mode="rgb_array"``) or, with
``views={"external": "pixels"}``, from the named keys of a dict observation, one key per view (uint8 (H, W, 3), or
(3, H, W)). A view the reasoner reads and ``views`` does not name is black frames, said once in a warning: one
camera reads as one view with the other empty, as `sole score` reads a missing view.

``info["sole"]`` holds the step's ``progress``, ``reasoning`` (the answer text; empty unless ``think``) and the
episode's ``parse_failures`` so far. ``combine`` says what the agent gets: the sole reward (``replace``), the env's
own reward (``keep``: sole's is only in ``info``), or their sum (``add``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from sole.models.base import Reasoner, check_goal
from sole.reward.rewarder import Frames, Reward, RewardConfig, Rewarder, query_step

RENDER = "render"
"""``views={"external": RENDER}``: the view is the env's ``render()`` frame (the default)."""
Combine = Literal["replace", "keep", "add"]


@dataclass(frozen=True)
class Settings:
    """How the reward reads and pays; the fields of `RewardConfig` a non-Meta-World env needs."""

    every: int = 1
    """Query the reasoner every k steps (and at an episode's last), holding or extrapolating in between."""
    between: Literal["hold", "extrapolate"] = "hold"
    """Between queries, hold the last estimate or extrapolate the last two."""
    mode: Literal["progress", "delta"] = "progress"
    """Reward = progress or its change since the previous step."""
    scale: float = 1.0
    """Multiplies the reward."""
    think: bool = False
    """Ask the reasoner to write its reasoning (slower); it lands in ``info["sole"]["reasoning"]``."""
    combine: Combine = "replace"
    """The agent's reward: sole's (replace), the env's (keep), or their sum (add)."""


class StreamingReward:
    """The resolved reasoner, its `Rewarder` over ``n`` envs and the view -> frame source map: what the wrappers
    here and the LeRobot reward model (`sole.reward.lerobot`) share."""

    def __init__(self, goal: str, reasoner: str | Reasoner, views: Mapping[str, str] | None, settings: Settings,
                 n: int, render_mode: str | None):
        from sole.models.registry import load_reasoner

        if settings.combine not in ("replace", "keep", "add"):
            raise ValueError(f"unknown combine={settings.combine!r}; valid: replace, keep, add")
        self.reasoner = load_reasoner(reasoner) if isinstance(reasoner, str) else reasoner
        cfg = RewardConfig(model=reasoner if isinstance(reasoner, str) else type(reasoner).__name__,
                           every=settings.every, between=settings.between, mode=settings.mode, scale=settings.scale,
                           think=settings.think)
        cfg.validate()
        self.settings = settings
        self.rewarder = Rewarder(Reward(cfg, check_goal(goal), reasoner=self.reasoner), n)
        self.sources = dict(views) if views is not None else {self.reasoner.views[0]: RENDER}
        if unknown := sorted(set(self.sources) - set(self.reasoner.views)):
            raise ValueError(f"views {unknown} are not read by the reasoner, which reads "
                             f"{', '.join(self.reasoner.views)}")
        used = list(self.sources.values())
        if twice := sorted({s for s in used if used.count(s) > 1}):
            both = ", ".join(v for v, s in self.sources.items() if s == twice[0])
            raise ValueError(f"views gives {twice[0]!r} to views {both}; each view is its own camera. With one "
                             "camera, name it for one view: the others are read as black frames")
        if black := [v for v in self.reasoner.views if v not in self.sources]:
            warnings.warn(f"no source for the {', '.join(black)} view: the reasoner sees black frames there",
                          stacklevel=3)
        if RENDER in self.sources.values() and render_mode != "rgb_array":
            raise ValueError(f"frames come from render(), and the env's render_mode is {render_mode!r}: make it with "
                             "render_mode='rgb_array', or name the observation key that holds the camera image "
                             "(views={'external': 'pixels'})")

    @property
    def keys(self) -> list[str]:
        """The observation keys the frames come from."""
        return [s for s in self.sources.values() if s != RENDER]

    def frames(self, obs: Mapping[str, Any] | None, image: np.ndarray | None) -> Frames:
        """One env's frames per reasoner view, from its dict observation and its ``render()`` image."""
        got = {v: as_frame(image if s == RENDER else (obs or {}).get(s), s) for v, s in self.sources.items()}
        shape = next(iter(got.values())).shape
        return {v: got.get(v, np.zeros(shape, np.uint8)) for v in self.reasoner.views}

    def step(self, frames: list[Frames | None]) -> np.ndarray:
        """Rewards (n,) for one step (the rewarder counts the answers that did not parse)."""
        return self.rewarder.step(frames)

    def reset(self, i: int, frames: Frames) -> None:
        self.rewarder.reset(i, frames)

    def due(self, i: int, last: bool) -> bool:
        return query_step(int(self.rewarder.t[i]) + 1, self.settings.every, last)

    def info(self, i: int) -> dict[str, Any]:
        return {"progress": float(self.rewarder.progress[i]), "reasoning": self.rewarder.text[i],
                "parse_failures": int(self.rewarder.parse_failures[i])}

    def pay(self, sole: float, env: float) -> float:
        return {"replace": sole, "keep": env, "add": sole + env}[self.settings.combine]


def as_frame(image: Any, source: str) -> np.ndarray:
    """A uint8 (H, W, 3) frame from an (H, W, 3) or (3, H, W) image; a clear error for anything else."""
    if image is None:
        raise ValueError(f"no frame from {source!r}: name an observation key that holds the camera image")
    frame = np.asarray(image)
    if frame.ndim == 3 and frame.shape[0] == 3 and frame.shape[-1] != 3:
        frame = frame.transpose(1, 2, 0)
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"{source!r} is not an RGB image: shape {frame.shape}, expected (H, W, 3) or (3, H, W)")
    return frame if frame.dtype == np.uint8 else np.clip(frame, 0, 255).astype(np.uint8)


class SoleReward(gym.Wrapper):
    """One env whose reward is a reasoner's progress on ``goal`` (a spec such as ``compact``, or a loaded reasoner).

    ``views`` maps the reasoner's views to frame sources: ``"render"`` or a key of the env's dict observation;
    default ``{first view: "render"}``. Other arguments are `Settings` fields.
    """

    def __init__(self, env: gym.Env, goal: str, reasoner: str | Reasoner = "compact", *,
                 views: Mapping[str, str] | None = None, **settings: Any):
        super().__init__(env)
        self.reader = StreamingReward(goal, reasoner, views, Settings(**settings), 1, env.render_mode)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.reader.reset(0, self._frames(obs))
        return obs, {**info, "sole": self.reader.info(0)}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        due = self.reader.due(0, bool(terminated or truncated))
        sole = float(self.reader.step([self._frames(obs) if due else None])[0])
        return obs, self.reader.pay(sole, float(reward)), terminated, truncated, {**info, "sole": self.reader.info(0)}

    def _frames(self, obs: Any) -> Frames:
        image = self.env.render() if RENDER in self.reader.sources.values() else None
        return self.reader.frames(obs if isinstance(obs, Mapping) else None, image)


class SoleRewardVecEnv(VecEnvWrapper):
    """An SB3 vector of envs whose reward is a reasoner's progress on ``goal``: one batched query per step.

    Frames from ``render()`` are read with ``get_images()``, after SB3 has reset a finished env: at an episode's
    last step such an env is not queried (its estimate is held) and its new episode starts from the reset frame.
    Frames from observation keys read the finished episode's ``terminal_observation``.
    """

    def __init__(self, venv: VecEnv, goal: str, reasoner: str | Reasoner = "compact", *,
                 views: Mapping[str, str] | None = None, **settings: Any):
        super().__init__(venv)
        self.reader = StreamingReward(goal, reasoner, views, Settings(**settings), self.num_envs, venv.render_mode)

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        for i, frames in enumerate(self._frames(obs)):
            self.reader.reset(i, frames)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        obs, env_rewards, dones, infos = self.venv.step_wait()
        due = [self.reader.due(i, bool(done)) for i, done in enumerate(dones)]
        # frames only on a step some env reads, or where one resets (render() draws every env at once)
        now = self._frames(obs) if any(due) or any(dones) else []
        rendered = RENDER in self.reader.sources.values()
        frames: list[Frames | None] = []
        for i, done in enumerate(dones):
            if (done and rendered) or not due[i]:
                frames.append(None)
            elif done:
                frames.append(self.reader.frames(infos[i]["terminal_observation"], None))
            else:
                frames.append(now[i])
        sole = self.reader.step(frames)
        rewards = np.array([self.reader.pay(float(s), float(r)) for s, r in zip(sole, env_rewards, strict=True)],
                           dtype=np.float32)
        for i, info in enumerate(infos):
            info["sole"] = self.reader.info(i)
            if dones[i]:
                self.reader.reset(i, now[i])
        return obs, rewards, dones, infos

    def _frames(self, obs: VecEnvObs) -> list[Frames]:
        images = self.venv.get_images() if RENDER in self.reader.sources.values() else [None] * self.num_envs
        per_env = [{k: obs[k][i] for k in self.reader.keys} if isinstance(obs, dict) else None
                   for i in range(self.num_envs)]
        return [self.reader.frames(o, img) for o, img in zip(per_env, images, strict=True)]
