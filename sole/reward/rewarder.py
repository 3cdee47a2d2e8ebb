"""Streaming rewards for RL: a reward source's progress turned into a per-step reward, batched across envs.

`resolve_reward` turns a `RewardConfig` and a task into a `Reward`, once per command: it parses the reasoner spec
and loads the reasoner, and everything downstream receives that object. A `Reward` answers "how far along is env
i" for a batch of envs in one call. The `Rewarder` keeps, per env, the streaming state of the SOLE-R1 contract
(first frame, previously queried frame, previous progress), so a step costs one query of O(1) frames; it is asked at
the steps `query_step` picks (every ``every``-th agent step and an episode's last) and holds or linearly
extrapolates the estimate in between; the reward is the progress (default) or its change, times a scale.

Sources, one name each (`SOURCES`):
- ``sole``: a reasoner (`sole.models.registry.load_reasoner`), fed only rendered frames and the goal text.
- ``oracle-dense`` / ``oracle-sparse``: the simulator's progress label / success flag. **These two are the only
  rewards that read the simulator state (`TaskEnv.privileged()`)**; they exist as upper bounds, never as the method.
- ``zero``: no reward, a floor for comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from sole.models.base import Query, Reasoner, Step

if TYPE_CHECKING:
    from sole.envs.progress import Privileged
    from sole.envs.tasks import TaskSpec

Frames = dict[str, np.ndarray]


@dataclass(frozen=True)
class RewardConfig:
    source: str = "sole"
    """Reward source: sole, oracle-dense, oracle-sparse or zero."""
    model: str = ""
    """Reasoner spec for ``sole`` (`sole.models.registry`): compact, compact:held-out-a, a checkpoint dir, api:URL;
    default (``held-out``): the shipped model that never saw the task. ``{fold}`` is the task's fold, e.g.
    runs/sft-{fold}/final. Experimental: checked:SPEC, contrast:SPEC, gated:SPEC and the min:/median:/mean:
    ensembles."""
    every: int = 1
    """Query the source every k agent steps (and at an episode's last step), holding or extrapolating between."""
    between: Literal["hold", "extrapolate"] = "hold"
    """Between queries, hold the last estimate or extrapolate the last two linearly."""
    mode: Literal["progress", "delta"] = "progress"
    """Reward = progress (SOLE-R1) or its change since the previous step (potential-based shaping)."""
    scale: float = 10.0
    """Multiplies the reward: 10 puts progress in [0, 10] per step, the range of Meta-World's own dense reward that
    published SAC settings are tuned for (at scale 1 the learned entropy bonus is as large as the reward)."""
    think: bool = False
    """Ask the reasoner to write its reasoning during training (slower); evaluation videos always think."""

    def label(self) -> str:
        """The source, with the reasoner spec when one is named and the query rate when not every step
        (``sole=compact``, ``sole=held-out@5``)."""
        label = f"{self.source}={self.model}" if self.model else self.source
        return f"{label}@{self.every}" if self.every != 1 else label

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"unknown reward source {self.source!r}; valid sources: {', '.join(SOURCES)}")
        if self.every < 1:
            raise ValueError(f"reward every={self.every!r} must be >= 1")
        if self.between not in ("hold", "extrapolate"):
            raise ValueError(f"unknown between={self.between!r}; valid: hold, extrapolate")
        if self.mode not in ("progress", "delta"):
            raise ValueError(f"unknown reward mode {self.mode!r}; valid modes: progress, delta")


@dataclass(frozen=True)
class Reward:
    """A reward resolved for one task: its settings, the task's goal, and the loaded source."""

    cfg: RewardConfig
    goal: str
    """The goal text the reasoner is asked about."""
    reasoner: Reasoner | None = None
    """The ``sole`` source's reasoner; None for the sources that read no pixels."""
    read_state: Callable[[Privileged | None], float] | None = None
    """The other sources' progress, from the simulator state at a query step (None unless ``privileged``)."""
    privileged: bool = False
    """True for the oracles, which read simulator state; an agent trained on them is a reference, not a result."""

    @property
    def views(self) -> tuple[str, ...]:
        """Views to render for it (empty: it reads no pixels)."""
        return tuple(self.reasoner.views) if self.reasoner is not None else ()

    def thinking(self) -> Reward:
        """The same reward asking the reasoner to write its reasoning (for videos)."""
        return replace(self, cfg=replace(self.cfg, think=True))

    def judge(self, queries: list[Query], states: list[Privileged | None]) -> list[Step]:
        """One answer per query; ``states`` is the simulator state at each (given only to privileged sources)."""
        if self.reasoner is not None:
            return self.reasoner.judge(queries, think=self.cfg.think)
        assert self.read_state is not None
        return [Step(progress=self.read_state(s)) for s in states]


# --- sources ----------------------------------------------------------------------------------------------------
def _sole(cfg: RewardConfig, task: TaskSpec) -> Reward:
    from sole.models.registry import load_reasoner, spec_for_task

    return Reward(cfg, task.goals[0], reasoner=load_reasoner(spec_for_task(cfg.model, task.name)))


def _true_progress(state: Privileged | None) -> float:
    assert state is not None  # privileged by design: the simulator's progress label, an upper bound
    return state.progress


def _true_success(state: Privileged | None) -> float:
    assert state is not None  # privileged by design: the simulator's success flag
    return float(state.success)


def _oracle(read: Callable[[Privileged | None], float]) -> Callable[[RewardConfig, TaskSpec], Reward]:
    return lambda cfg, task: Reward(cfg, task.goals[0], read_state=read, privileged=True)


def _zero(cfg: RewardConfig, task: TaskSpec) -> Reward:
    return Reward(cfg, task.goals[0], read_state=lambda _state: 0.0)


SOURCES: dict[str, Callable[[RewardConfig, TaskSpec], Reward]] = {
    "sole": _sole,
    "oracle-dense": _oracle(_true_progress),
    "oracle-sparse": _oracle(_true_success),
    "zero": _zero,
}
"""Reward source name -> builder(config, task)."""


def resolve_reward(cfg: RewardConfig, task: TaskSpec, reasoner: Reasoner | None = None) -> Reward:
    """The reward ``cfg`` names for ``task``, its reasoner loaded; a given ``reasoner`` is the ``sole`` source's
    instead of the one ``cfg.model`` names (tests pass a tiny one)."""
    cfg.validate()
    if reasoner is not None and cfg.source == "sole":
        return Reward(cfg, task.goals[0], reasoner=reasoner)
    return SOURCES[cfg.source](cfg, task)


def query_step(t: int, every: int, last: bool) -> bool:
    """Whether agent step ``t`` of an episode (1, 2, ...) queries the source: every ``every``-th, and the last."""
    return last or t % every == 0


# --- the streaming rewarder ---------------------------------------------------------------------------------------
class Rewarder:
    """Per-env streaming reward state over one `Reward`, batched: one `judge` call per step for all queried envs."""

    def __init__(self, reward: Reward, n_envs: int):
        self.reward, self.cfg = reward, reward.cfg
        self.n = n_envs
        self.t = np.zeros(n_envs, dtype=np.int64)
        """Agent steps since each env's reset."""
        self.progress = np.zeros(n_envs)
        """Current progress estimate of each env (queried, held or extrapolated)."""
        self.text = [""] * n_envs
        """The source's last answer text per env (its reasoning, when it thinks)."""
        self.parse_failures = np.zeros(n_envs, dtype=np.int64)
        """Per env, the answers of this episode that did not parse (`Step.parsed`; their progress is the fallback)."""
        self._first: list[Frames] = [{} for _ in range(n_envs)]
        self._prev: list[Frames] = [{} for _ in range(n_envs)]
        self._q = np.zeros((n_envs, 2, 2))
        """Per env the last two queries as (step, progress) rows, oldest first: the extrapolation line."""

    @property
    def views(self) -> tuple[str, ...]:
        return self.reward.views

    def reset(self, i: int, frames: Frames) -> None:
        """Start env ``i``'s episode at its first frame: progress 0, as the contract defines."""
        self._first[i] = self._prev[i] = frames
        self.t[i], self.progress[i], self.text[i], self.parse_failures[i] = 0, 0.0, "", 0
        self._q[i] = 0.0

    def step(self, frames: Sequence[Frames | None], states: Sequence[Privileged | None] | None = None) -> np.ndarray:
        """Advance every env one agent step and return their rewards (n_envs,).

        ``frames[i]`` is env i's current frames at a query step (see `query_step`), else None (not queried);
        ``states[i]`` its simulator state there, for the privileged sources only.
        """
        if len(frames) != self.n:
            raise ValueError(f"got frames for {len(frames)} envs, the rewarder has {self.n}")
        before = self.progress.copy()
        self.t += 1
        due = [i for i, f in enumerate(frames) if f is not None]
        queries = [Query(goal=self.reward.goal, first=self._first[i], previous=self._prev[i], current=frames[i],
                         prev_progress=float(self.progress[i])) for i in due]  # type: ignore[arg-type]
        answers = self.reward.judge(queries, [states[i] if states else None for i in due]) if due else []
        for i, step in zip(due, answers, strict=True):
            self._prev[i], self.text[i] = frames[i], step.text  # type: ignore[assignment]
            self.parse_failures[i] += not step.parsed
            self._q[i] = (self._q[i, 1], (self.t[i], step.progress))
        for i in range(self.n):
            self.progress[i] = self._estimate(i)
        reward = self.progress - before if self.cfg.mode == "delta" else self.progress.copy()
        return self.cfg.scale * reward

    def _estimate(self, i: int) -> float:
        (t0, p0), (t1, p1) = self._q[i]
        if self.cfg.between == "hold" or t1 == self.t[i] or t1 == t0:
            return float(p1)
        return float(np.clip(p1 + (self.t[i] - t1) * (p1 - p0) / (t1 - t0), -1.0, 1.0))
