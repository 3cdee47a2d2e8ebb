"""The RL protocol around a `TaskEnv`: action repeat, episode length, and a batched reward from a `Rewarder`.

What the agent gets from `RewardVecEnv` (an SB3 `VecEnv`): the 39-d Meta-World observation, the Rewarder's
reward, ``done`` at the time limit, and an info dict with exactly the keys SB3 needs for time limits
(``TimeLimit.truncated``, ``terminal_observation``) — no success, no progress, no simulator reward.

Ground truth goes to the *evaluation channel* `RewardVecEnv.finished`: one `EpisodeRecord` per finished episode
(simulator success, true and rewarded final progress, return), read by logging and evaluation code, never by the
agent. It reads `TaskEnv.privileged()` once per episode end (every step only when recording videos), and not at
all with ``truth=False``; the reward itself reads it only for the oracle sources.

Protocol (compares with published state-SAC numbers on Meta-World): 100 agent steps per episode, each action
repeated for 2 simulator steps; the reward sees one frame per agent step. Every env draws a fresh object/goal
layout at every reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from sole.envs.sim import VIEWS, TaskEnv, make_env
from sole.models.base import Reasoner
from sole.reward.rewarder import Frames, RewardConfig, make_rewarder

HORIZON = 100
"""Agent steps per episode."""
REPEAT = 2
"""Simulator steps per agent step."""
PROPRIO = slice(0, 4)
"""Hand position and gripper opening: the robot's own state in the Meta-World observation."""
HACKED = 0.8
"""A reward progress at or above this at an episode's end claims success."""


class ActionRepeat(gym.Wrapper):
    """Apply each action for ``repeat`` simulator steps; return the last observation and the summed reward."""

    def __init__(self, env: gym.Env, repeat: int = REPEAT):
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"action repeat {repeat!r} must be >= 1")
        self.repeat = repeat

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        total = 0.0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class PixelObservation(gym.ObservationWrapper):
    """Observation = both rendered views stacked as (3 * views, H, W) uint8 + proprio (hand xyz, gripper)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        size = env.unwrapped.cfg.size
        self.observation_space = gym.spaces.Dict({
            "pixels": gym.spaces.Box(0, 255, (3 * len(VIEWS), size, size), np.uint8),
            "proprio": gym.spaces.Box(-np.inf, np.inf, (PROPRIO.stop,), np.float32)})

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        views = self.env.unwrapped.render_views(VIEWS)
        pixels = np.concatenate([views[v].transpose(2, 0, 1) for v in VIEWS])  # (3 * views, H, W)
        return {"pixels": pixels, "proprio": observation[PROPRIO].astype(np.float32)}


def make_agent_env(task: str, seed: int = 0, size: int = 64, repeat: int = REPEAT, horizon: int = HORIZON,
                   pixels: bool = False) -> gym.Env:
    """`TaskEnv` under the RL protocol: ``repeat`` x action repeat, truncated after ``horizon`` agent steps;
    ``pixels`` swaps the state observation for `PixelObservation`."""
    if horizon * repeat > 500:
        raise ValueError(f"horizon {horizon} x repeat {repeat} exceeds Meta-World's 500 simulator steps per episode")
    env = TimeLimit(ActionRepeat(make_env(task, size=size, seed=seed), repeat), max_episode_steps=horizon)
    return PixelObservation(env) if pixels else env


@dataclass
class EpisodeRecord:
    """Ground truth about one finished episode: for evaluation and logging, never for the agent."""

    success: bool
    """Simulator success at the last step."""
    ever_success: bool
    """Simulator success at any step."""
    true_progress: float
    """The privileged progress label at the last step."""
    reward_progress: float
    """The reward source's progress estimate at the last step."""
    ret: float
    """Sum of the rewards the agent got."""
    length: int
    frames: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Per view the frames at steps 0..T (only when recording)."""
    reward_curve: list[float] = field(default_factory=list)
    """Reward progress at steps 0..T (only when recording)."""
    true_curve: list[float] = field(default_factory=list)
    """True progress at steps 0..T (only when recording)."""
    texts: list[str] = field(default_factory=list)
    """The source's answer text at steps 0..T (only when recording)."""

    @property
    def hacked(self) -> bool:
        """The reward claims success (final progress >= 0.8) while the simulator says failure."""
        return self.reward_progress >= HACKED and not self.success


class RewardVecEnv(DummyVecEnv):
    """In-process vector of agent envs whose reward comes from one `Rewarder`: one batched query per step.

    ``truth`` fills the evaluation channel `finished`; ``record`` also keeps every frame and the true and
    rewarded progress curves of each episode, for videos.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], task: str, reward: RewardConfig, *,
                 truth: bool = True, record: bool = False, reasoner: Reasoner | None = None):
        super().__init__(env_fns)
        self.task_envs: list[TaskEnv] = [e.unwrapped for e in self.envs]  # type: ignore[misc]
        self.rewarder = make_rewarder(reward, task, self.task_envs, reasoner)
        self.truth, self.record = truth or record, record
        self.finished: list[EpisodeRecord] = []
        """Evaluation channel: ground truth of every finished episode, in order of finishing."""
        self._returns = np.zeros(self.num_envs)
        self._episode: list[EpisodeRecord | None] = [None] * self.num_envs

    # --- SB3 VecEnv -----------------------------------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        for i in range(self.num_envs):
            self._save_obs(i, self._start(i, self._seeds[i]))
        self._reset_seeds()
        self._reset_options()
        return self._obs_from_buf()

    def step_wait(self) -> VecEnvStepReturn:
        obs, frames, infos = [], [], []
        for i, env in enumerate(self.envs):
            # The wrapped env's own reward (always 0) and info ({}) are dropped: the agent sees only what we build.
            o, _, terminated, truncated, _ = env.step(self.actions[i])
            self.buf_dones[i] = terminated or truncated
            infos.append({"TimeLimit.truncated": bool(truncated and not terminated)})
            obs.append(o)
            frames.append(self._render(i) if self.rewarder.due(i, last=bool(self.buf_dones[i])) else None)
        self.buf_rews[:] = self.rewarder.step(frames)
        self._returns += self.buf_rews
        for i in range(self.num_envs):
            if self.record:
                self._remember(i, frames[i])
            if self.buf_dones[i]:
                infos[i]["terminal_observation"] = obs[i]
                if self.truth:
                    self.finished.append(self._close_episode(i))
                obs[i] = self._start(i, None)
            self._save_obs(i, obs[i])
        self.buf_infos = infos
        return self._obs_from_buf(), self.buf_rews.copy(), self.buf_dones.copy(), [dict(d) for d in infos]

    # --- helpers ------------------------------------------------------------------------------------------------
    def _views(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*VIEWS, *self.rewarder.views))) if self.record else self.rewarder.views

    def _render(self, i: int) -> Frames:
        return self.task_envs[i].render_views(self._views())

    def _start(self, i: int, seed: int | None) -> np.ndarray:
        obs, self.reset_infos[i] = self.envs[i].reset(seed=seed)
        frames = self._render(i) if self._views() else {}
        self.rewarder.reset(i, {v: frames[v] for v in self.rewarder.views})
        self._returns[i] = 0.0
        if self.record:
            self._episode[i] = EpisodeRecord(False, False, 0.0, 0.0, 0.0, 0, frames={v: [] for v in VIEWS})
            self._remember(i, frames)
        return obs

    def _remember(self, i: int, frames: Frames | None) -> None:
        rec = self._episode[i]
        assert rec is not None
        frames = frames if frames is not None else self._render(i)
        for v in VIEWS:
            rec.frames[v].append(frames[v])
        rec.reward_curve.append(float(self.rewarder.progress[i]))
        rec.true_curve.append(self.task_envs[i].privileged().progress)  # recording is for evaluation videos only
        rec.texts.append(self.rewarder.text[i])

    def _close_episode(self, i: int) -> EpisodeRecord:
        truth = self.task_envs[i].privileged()  # evaluation channel: read after the reward was computed
        rec = self._episode[i] or EpisodeRecord(False, False, 0.0, 0.0, 0.0, 0)
        rec.success, rec.ever_success, rec.true_progress = truth.success, truth.ever_success, truth.progress
        rec.reward_progress, rec.ret, rec.length = float(self.rewarder.progress[i]), float(self._returns[i]), int(
            self.rewarder.t[i])
        self._episode[i] = None
        return rec


def make_vec_env(task: str, reward: RewardConfig, n_envs: int = 1, seed: int = 0, size: int = 64, *,
                 horizon: int = HORIZON, pixels: bool = False, truth: bool = True, record: bool = False,
                 reasoner: Reasoner | None = None) -> RewardVecEnv:
    """``n_envs`` agent envs of ``task`` (layout seeds ``seed``, ``seed + 1``, ...) with a batched reward."""
    fns = [lambda s=seed + k: make_agent_env(task, seed=s, size=size, horizon=horizon, pixels=pixels)
           for k in range(n_envs)]
    return RewardVecEnv(fns, task, reward, truth=truth, record=record, reasoner=reasoner)
