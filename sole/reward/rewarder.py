"""Streaming rewards for RL: a reward source's progress turned into a per-step reward, batched across envs.

A *source* answers "how far along is env i" for a batch of envs in one call. The `Rewarder` keeps, per env, the
streaming state of the SOLE-R1 contract (first frame, previously queried frame, previous progress), so a step
costs one query of O(1) frames; it asks every ``every``-th agent step (and at an episode's last step) and holds or
linearly extrapolates the estimate in between; the reward is the progress (default) or its change, times a scale.

Sources, one name each (`SOURCES`):
- ``sole``: a reasoner (`sole.models.registry.load_reasoner`), fed only rendered frames and the goal text.
- ``oracle-dense`` / ``oracle-sparse``: the simulator's progress label / success flag. **These two are the only
  rewards allowed to read `TaskEnv.privileged()`**; they exist as upper bounds, never as the method.
- ``zero``: no reward, a floor for comparisons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sole.envs.tasks import get_task
from sole.models.base import Query, Reasoner, Step

Frames = dict[str, np.ndarray]
Judge = Callable[[list[int], list[Query]], list[Step]]
"""(env indices, their queries) -> one answer per queried env."""


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
    """Query the source every k agent steps (and at an episode's last step)."""
    between: Literal["hold", "extrapolate"] = "hold"
    """Between queries, hold the last estimate or extrapolate the last two linearly."""
    mode: Literal["progress", "delta"] = "progress"
    """Reward = progress (SOLE-R1) or its change since the previous step (potential-based shaping)."""
    scale: float = 1.0
    """Multiplies the reward."""
    think: bool = False
    """Ask the reasoner to write its reasoning during training (slower); evaluation videos always think."""

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
class Source:
    """What a reward source reads and how it answers."""

    views: tuple[str, ...]
    """Views to render for it (empty: it reads no pixels)."""
    judge: Judge
    privileged: bool
    """True for the oracles, which read simulator state; an agent trained on them is a reference, not a result."""
    reasoner: Reasoner | None = None


# --- sources ----------------------------------------------------------------------------------------------------
def reasoner_source(reasoner: Reasoner, think: bool = False) -> Source:
    """A reasoner as a reward: sees only the queries (goal text + rendered frames + its previous answer)."""
    return Source(views=tuple(reasoner.views), judge=lambda _idx, queries: reasoner.judge(queries, think=think),
                  privileged=False, reasoner=reasoner)


def _sole(cfg: RewardConfig, task: str, envs: Sequence[Any]) -> Source:
    from sole.models.registry import load_reasoner, spec_for_task

    return reasoner_source(load_reasoner(spec_for_task(cfg.model, task)), think=cfg.think)


def _oracle_dense(cfg: RewardConfig, task: str, envs: Sequence[Any]) -> Source:
    # Privileged by design: the simulator's progress label, an upper bound for what a reward model can give.
    return Source(views=(), privileged=True,
                  judge=lambda idx, _q: [Step(progress=envs[i].privileged().progress) for i in idx])


def _oracle_sparse(cfg: RewardConfig, task: str, envs: Sequence[Any]) -> Source:
    # Privileged by design: the simulator's success flag.
    return Source(views=(), privileged=True,
                  judge=lambda idx, _q: [Step(progress=float(envs[i].privileged().success)) for i in idx])


def _zero(cfg: RewardConfig, task: str, envs: Sequence[Any]) -> Source:
    return Source(views=(), privileged=False, judge=lambda idx, _q: [Step(progress=0.0) for _ in idx])


SOURCES: dict[str, Callable[[RewardConfig, str, Sequence[Any]], Source]] = {
    "sole": _sole,
    "oracle-dense": _oracle_dense,
    "oracle-sparse": _oracle_sparse,
    "zero": _zero,
}
"""Reward source name -> builder(config, task, envs). Only the oracle builders touch ``envs``."""


def make_source(cfg: RewardConfig, task: str, envs: Sequence[Any]) -> Source:
    cfg.validate()
    return SOURCES[cfg.source](cfg, get_task(task).name, envs)


# --- the streaming rewarder ---------------------------------------------------------------------------------------
class Rewarder:
    """Per-env streaming reward state over one source, batched: one `judge` call per step for all due envs."""

    def __init__(self, source: Source, goal: str, n_envs: int, cfg: RewardConfig = RewardConfig()):
        self.source, self.goal, self.cfg = source, goal, cfg
        self.n = n_envs
        self.t = np.zeros(n_envs, dtype=np.int64)
        """Agent steps since each env's reset."""
        self.progress = np.zeros(n_envs)
        """Current progress estimate of each env (queried, held or extrapolated)."""
        self.text = [""] * n_envs
        """The source's last answer text per env (its reasoning, when it thinks)."""
        self._first: list[Frames] = [{} for _ in range(n_envs)]
        self._prev: list[Frames] = [{} for _ in range(n_envs)]
        self._q = np.zeros((n_envs, 2, 2))
        """Per env the last two queries as (step, progress) rows, oldest first: the extrapolation line."""

    @property
    def views(self) -> tuple[str, ...]:
        return self.source.views

    def reset(self, i: int, frames: Frames) -> None:
        """Start env ``i``'s episode at its first frame: progress 0, as the contract defines."""
        self._first[i] = self._prev[i] = frames
        self.t[i], self.progress[i], self.text[i] = 0, 0.0, ""
        self._q[i] = 0.0

    def due(self, i: int, last: bool = False) -> bool:
        """Whether env ``i``'s next step is a query step (render its frames only then)."""
        return last or (int(self.t[i]) + 1) % self.cfg.every == 0

    def step(self, frames: Sequence[Frames | None]) -> np.ndarray:
        """Advance every env one agent step and return their rewards (n_envs,).

        ``frames[i]`` is env i's current frames when it is due (see `due`), else None (not queried this step).
        """
        if len(frames) != self.n:
            raise ValueError(f"got frames for {len(frames)} envs, the rewarder has {self.n}")
        before = self.progress.copy()
        self.t += 1
        due = [i for i, f in enumerate(frames) if f is not None]
        queries = [Query(goal=self.goal, first=self._first[i], previous=self._prev[i], current=frames[i],
                         prev_progress=float(self.progress[i])) for i in due]  # type: ignore[arg-type]
        answers = self.source.judge(due, queries) if due else []
        for i, step in zip(due, answers, strict=True):
            self._prev[i], self.text[i] = frames[i], step.text  # type: ignore[assignment]
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


def make_rewarder(cfg: RewardConfig, task: str, envs: Sequence[Any], reasoner: Reasoner | None = None) -> Rewarder:
    """A Rewarder for ``task`` over ``envs``; a given ``reasoner`` replaces the spec lookup of the ``sole`` source."""
    source = reasoner_source(reasoner, cfg.think) if reasoner is not None else make_source(cfg, task, envs)
    return Rewarder(source, get_task(task).goals[0], len(envs), cfg)
