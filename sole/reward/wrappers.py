"""The RL protocol around a `TaskEnv`: action repeat, episode length, one rendering per step, a batched reward.

Per env (in this process, or each in its own worker process), `Sensors` renders each agent step's frames once and
hands them on in ``info``: the agent's pixel observation (DrQ-v2), the reward's query and the recorded videos all
read that one rendering. Over a vector of such envs, `RewardVecEnv` (an SB3 `VecEnvWrapper`) replaces the reward
with the `Rewarder`'s, one batched query per step, and hands the agent the observation, that reward, ``done`` at
the time limit, and an info dict with exactly the keys SB3 needs for time limits (``TimeLimit.truncated``,
``terminal_observation``): no frames, no success, no progress, no simulator reward.

Ground truth goes to the *evaluation channel* `RewardVecEnv.finished`: one `EpisodeRecord` per finished episode
(simulator success, true and rewarded final progress, return), read by logging and evaluation code, never by the
agent. `TaskEnv.privileged()` is read once per episode end (every step only when recording videos), and not at
all with ``truth=False``; the reward itself reads it only for the oracle sources.

Protocol (compares with published state-SAC numbers on Meta-World): 100 agent steps per episode, each action
repeated for 2 simulator steps; the reward sees one frame per agent step. Every env draws a fresh object/goal
layout at every reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TimeLimit
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from sole.envs.sim import VIEWS, make_env
from sole.reward.rewarder import Frames, Reward, Rewarder, query_step

if TYPE_CHECKING:
    from sole.envs.progress import Privileged
    from sole.envs.tasks import TaskSpec

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


def make_agent_env(task: str, seed: int = 0, size: int = 64, repeat: int = REPEAT, horizon: int = HORIZON) -> gym.Env:
    """`TaskEnv` under the RL protocol: ``repeat`` x action repeat, truncated after ``horizon`` agent steps."""
    if horizon * repeat > 500:
        raise ValueError(f"horizon {horizon} x repeat {repeat} exceeds Meta-World's 500 simulator steps per episode")
    return TimeLimit(ActionRepeat(make_env(task, size=size, seed=seed), repeat), max_episode_steps=horizon)


StateReads = Literal["never", "last", "queries", "every"]
"""At which steps `Sensors` reads the simulator state: never, at an episode's last step (the evaluation channel),
at the reward's query steps (an oracle source; the last step is one), or at every step (recording videos)."""


class Sensors(gym.Wrapper):
    """Renders each agent step's frames once and puts them in ``info``, for the reward, the agent and videos.

    ``info["frames"]`` holds the ``views`` at the reward's query steps (reset, every ``every``-th step, the last),
    and every step the camera views when the agent sees ``pixels`` or the episode is recorded; ``info["query"]``
    says whether the step is a query step; ``info["state"]`` is `TaskEnv.privileged()` at the steps ``state``
    picks, else None. With ``pixels`` the observation is both camera views stacked as (3 * views, H, W) uint8 plus
    the robot's own state (hand xyz, gripper), built from the same frames.
    """

    def __init__(self, env: gym.Env, views: tuple[str, ...], every: int = 1, *, pixels: bool = False,
                 record: bool = False, state: StateReads = "never"):
        super().__init__(env)
        self.views, self.every, self.pixels, self.state = views, every, pixels, state
        self.always: tuple[str, ...] = VIEWS if pixels or record else ()
        self.t = 0
        if pixels:
            size = env.unwrapped.cfg.size
            self.observation_space = gym.spaces.Dict({
                "pixels": gym.spaces.Box(0, 255, (3 * len(VIEWS), size, size), np.uint8),
                "proprio": gym.spaces.Box(-np.inf, np.inf, (PROPRIO.stop,), np.float32)})

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        obs, _ = self.env.reset(seed=seed, options=options)
        self.t = 0
        return self._sense(obs, query=True, last=False)

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict]:
        # The wrapped env's own reward (always 0) and info ({}) are dropped: the reward comes from the Rewarder.
        obs, _, terminated, truncated, _ = self.env.step(action)
        self.t += 1
        last = bool(terminated or truncated)
        obs, info = self._sense(obs, query=query_step(self.t, self.every, last), last=last)
        return obs, 0.0, terminated, truncated, info

    def _sense(self, obs: np.ndarray, query: bool, last: bool) -> tuple[Any, dict]:
        task_env = self.env.unwrapped
        views = tuple(dict.fromkeys((*(self.views if query else ()), *self.always)))
        frames = task_env.render_views(views) if views else {}
        read = {"never": False, "last": last, "queries": query, "every": True}[self.state]
        info = {"query": query, "frames": frames, "state": task_env.privileged() if read else None}
        if self.pixels:
            pixels = np.concatenate([frames[v].transpose(2, 0, 1) for v in VIEWS])  # (3 * views, H, W)
            obs = {"pixels": pixels, "proprio": obs[PROPRIO].astype(np.float32)}
        return obs, info


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
    parse_failures: int = 0
    """The reward source's answers in this episode that did not parse (a reasoner off its answer format)."""
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



AGENT_INFO = ("TimeLimit.truncated", "terminal_observation")
"""The only info keys the agent gets."""


class RewardVecEnv(VecEnvWrapper):
    """A vector of `Sensors` envs whose reward comes from one `Rewarder`: one batched query per step.

    ``truth`` fills the evaluation channel `finished`; ``record`` also keeps every frame and the true and
    rewarded progress curves of each episode, for videos.
    """

    def __init__(self, venv: VecEnv, reward: Reward, *, truth: bool = True, record: bool = False):
        super().__init__(venv)
        self.rewarder = Rewarder(reward, self.num_envs)
        self.truth, self.record = truth or record, record
        self.finished: list[EpisodeRecord] = []
        """Evaluation channel: ground truth of every finished episode, in order of finishing."""
        self._returns = np.zeros(self.num_envs)
        self._episode: list[EpisodeRecord | None] = [None] * self.num_envs

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        for i, info in enumerate(self.venv.reset_infos):
            self._start(i, info)
        return obs

    def step_wait(self) -> VecEnvStepReturn:
        obs, _, dones, infos = self.venv.step_wait()
        frames = [self._reward_frames(info) if info["query"] else None for info in infos]
        rewards = self.rewarder.step(frames, [info["state"] for info in infos]).astype(np.float32)
        self._returns += rewards
        for i, info in enumerate(infos):
            if self.record:
                self._remember(i, info)
            if dones[i]:  # the env has reset already: its new episode's first frames are in reset_infos
                if self.truth:
                    self.finished.append(self._close_episode(i, info["state"]))
                self._start(i, self.venv.reset_infos[i])
        return obs, rewards, dones, [{k: info[k] for k in AGENT_INFO if k in info} for info in infos]

    # --- helpers ------------------------------------------------------------------------------------------------
    def _reward_frames(self, info: dict) -> Frames:
        return {v: info["frames"][v] for v in self.rewarder.views}

    def _start(self, i: int, info: dict) -> None:
        self.rewarder.reset(i, self._reward_frames(info))
        self._returns[i] = 0.0
        if self.record:
            self._episode[i] = EpisodeRecord(False, False, 0.0, 0.0, 0.0, 0, frames={v: [] for v in VIEWS})
            self._remember(i, info)

    def _remember(self, i: int, info: dict) -> None:
        rec = self._episode[i]
        assert rec is not None
        for v in VIEWS:
            rec.frames[v].append(info["frames"][v])
        rec.reward_curve.append(float(self.rewarder.progress[i]))
        rec.true_curve.append(info["state"].progress)  # recording is for evaluation videos only
        rec.texts.append(self.rewarder.text[i])

    def _close_episode(self, i: int, truth: Privileged) -> EpisodeRecord:
        rec = self._episode[i] or EpisodeRecord(False, False, 0.0, 0.0, 0.0, 0)
        rec.success, rec.ever_success, rec.true_progress = truth.success, truth.ever_success, truth.progress
        rec.reward_progress, rec.ret = float(self.rewarder.progress[i]), float(self._returns[i])
        rec.length = int(self.rewarder.t[i])
        rec.parse_failures = int(self.rewarder.parse_failures[i])
        self._episode[i] = None
        return rec


def make_vec_env(task: TaskSpec, reward: Reward, n_envs: int = 1, seed: int = 0, size: int = 64, *,
                 horizon: int = HORIZON, pixels: bool = False, truth: bool = True, record: bool = False,
                 processes: bool = False) -> RewardVecEnv:
    """``n_envs`` agent envs of ``task`` (layout seeds ``seed``, ``seed + 1``, ...) with a batched ``reward``;
    with ``processes`` each env steps and renders in its own spawned process while the reward stays one batched
    query here."""
    state: StateReads = "every" if record else "queries" if reward.privileged else "last" if truth else "never"
    fns = [lambda s=seed + k: Sensors(make_agent_env(task.name, seed=s, size=size, horizon=horizon), reward.views,
                                      reward.cfg.every, pixels=pixels, record=record, state=state)
           for k in range(n_envs)]
    venv = SubprocVecEnv(fns, start_method="spawn") if processes else DummyVecEnv(fns)
    return RewardVecEnv(venv, reward, truth=truth, record=record)
