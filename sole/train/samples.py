"""Training queries drawn from synthesized episodes: (episode, t, goal, previous frame, noisy prior) -> targets.

What a sample teaches, and why:

- **Goal mix.** The own task's goal most of the time; a *counterfactual* goal of the same scene some of the time
  (window-open on a window-close video, whose label falls), so the verb matters; a *mismatched* goal of another
  scene otherwise, label 0, so the object matters. Which counterfactual goals are allowed: `SampleConfig`.
- **Paraphrases.** Goal text is drawn from the task's paraphrases except ``held_out_goal``, kept out of training
  (`sole eval reward --goal-index` reads it).
- **Direction.** A share of samples plays the episode backwards (frames and labels reversed together, as the
  synthesis's ``reversed`` kind does), so "how much changed since the first frame" rises while progress falls
  and only the object's state tells them apart.
- **Previous frame and prior.** The previous frame is ``t - k``, ``k`` uniform in ``1..max_gap`` (dense and
  subsampled querying alike), and the prior is the label at ``t - k`` plus noise, or for a share of samples a
  random value, so copying it is not enough.
- **Targets.** The progress label at ``t`` and the completion ``<think>CoT</think><answer>N%</answer>`` written
  by the synthesis CoT generator from the facts of steps ``t - k`` and ``t``.

Frames stay uint8 in memory; a batch is gathered and stacked per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch

from sole.envs.tasks import PROC_FOLD, get_task, resolve_tasks
from sole.models.compact import Inputs, stack_frames
from sole.synth.derived import Part, derived_cot, derived_goal, derived_goals, is_derived
from sole.synth.episode import Episode


@dataclass(frozen=True)
class DataConfig:
    root: str = "data/synth-v2/train"
    """Dataset written by `sole synth` (its training split); several, comma-separated, are read together."""
    val: str = "data/synth-v2/eval"
    """Held-out episodes of the same tasks for validation (the synthesis eval split); empty: hold out every
    ``val_every``-th episode of each task from ``root`` instead."""
    tasks: str = "fold-a"
    """Tasks to train on: fold-a, fold-b, all, or a comma-separated list."""
    val_every: int = 10
    """Used when ``val`` is empty (see there)."""
    max_episodes: int = 0
    """Use at most this many training episodes (0: all), for quick runs."""
    per_task: int = 0
    """Use at most this many training episodes of each task (0: all), spread evenly over the task's episodes so
    every rollout kind keeps its share: with ``tasks``, it separates the number of tasks from the number of
    episodes in data-scaling runs."""


@dataclass
class Split:
    tasks: tuple[str, ...]
    train: list[Episode]
    val: list[Episode]


def read_episodes(root: str, tasks: tuple[str, ...]) -> list[Episode]:
    from sole.data.store import load_datasets

    episodes = load_datasets(root, tasks=tasks)
    if not episodes:
        raise ValueError(f"dataset {root} holds no episodes of the tasks {', '.join(tasks)}")
    return episodes


def load_split(cfg: DataConfig) -> Split:
    """Training and validation episodes of ``cfg.tasks``."""
    tasks = resolve_tasks(cfg.tasks)
    episodes = read_episodes(cfg.root, tasks)
    if cfg.val:
        train, val = episodes, read_episodes(cfg.val, tasks)
    else:
        train, val = split_episodes(episodes, cfg.val_every)
    train = thin_per_task(train, cfg.per_task) if cfg.per_task > 0 else train
    return Split(tasks, train[: cfg.max_episodes] if cfg.max_episodes > 0 else train, val)


def thin_per_task(episodes: list[Episode], n: int) -> list[Episode]:
    """At most ``n`` episodes of each task, evenly spaced through that task's episodes in index order."""
    by_task: dict[str, list[Episode]] = {}
    for ep in sorted(episodes, key=lambda e: e.index):
        by_task.setdefault(ep.task, []).append(ep)
    keep = {id(eps[int(i)]) for eps in by_task.values()
            for i in np.unique(np.linspace(0, len(eps) - 1, min(n, len(eps))).round())}
    return [ep for ep in episodes if id(ep) in keep]


def spread(episodes: list[Episode], n: int) -> list[Episode]:
    """At most ``n`` episodes, evenly spread over the list (so every task and kind keeps a share); 0: all."""
    if n <= 0 or len(episodes) <= n:
        return episodes
    return [episodes[int(i * len(episodes) / n)] for i in range(n)]


def read_unseen(cfg: DataConfig, selection: str, trained: tuple[str, ...]) -> list[Episode]:
    """Validation episodes (``cfg.val``) of tasks outside ``trained``: how a model reads tasks it never saw."""
    if not cfg.val:
        raise ValueError("unseen tasks are read from the validation set: give data.val (a `sole synth` eval split)")
    tasks = resolve_tasks(selection)
    if seen := sorted(set(tasks) & set(trained)):
        raise ValueError(f"tasks {', '.join(seen)} are trained on, so they cannot measure unseen tasks")
    return read_episodes(cfg.val, tasks)


@dataclass(frozen=True)
class SampleConfig:
    p_own: float = 0.6
    """Share of samples whose goal is the episode's own task. The rest not taken by counterfactuals pair the video
    with another scene's goal and label 0. A model meant for unseen tasks is trained with 1.0: one taught that a
    goal it never saw with a scene means 0 answers ~0 on every unseen task, whose goal and scene are such a pair."""
    p_counterfactual: float = 0.2
    """Share with a counterfactual goal of the same scene (falls back to the own goal when there is none)."""
    cf_goals: Literal["train", "scene"] = "train"
    """Counterfactual goals allowed: only the training tasks' goals, or every goal of the scene. "scene" leaks a
    held-out task into a model trained on one fold: reversed and undo videos of its sibling show the held-out task
    being done (a drawer closing in a reversed drawer-open video) and would be labelled for its goal. Siblings sit
    in opposite folds, so under "train" such a model sees no counterfactual goal at all; for a model trained on
    all tasks the two are the same."""
    max_gap: int = 10
    """The previous frame is t-k with k uniform in 1..max_gap."""
    prior_noise: float = 0.15
    """Largest standard deviation of the noise added to the prior (drawn uniformly per sample)."""
    p_random_prior: float = 0.4
    """Share of samples whose prior is uniform in [0, 1], unrelated to the truth. Without it the model learns to
    copy the prior (progress moves little between nearby frames) and, fed its own answers from 0%, stays at 0."""
    p_reverse: float = 0.3
    """Share of samples that play their episode backwards (see the module docstring), so that "how much changed"
    is not enough: a closing drawer must not read as an opening one."""
    p_extreme_prior: float = 0.5
    """Share of those random priors put at an end, 0 or 1 (equally often), instead of uniformly in [0, 1]. Solved
    experts hold at 1, so "prior 1 -> answer 1" is the commonest pattern in the data; without this a model learns to
    repeat a prior of 1 whatever the frames show, which a policy can exploit by looking done once."""
    p_derived: float = 0.0
    """Share of samples whose goal is a derived one (`sole.synth.derived`): a part of the scene (the task's object
    or the gripper) and a direction, labelled from the stored positions. The other samples follow the goal mix
    above."""
    derived_parts: tuple[Part, ...] = ("obj", "hand")
    """Parts derived goals may name; a derived sample picks one of those its episode offers, then a direction."""
    p_meta_world: float = 0.0
    """Share of samples drawn from Meta-World episodes when the training set also holds generated tasks
    (``proc:<seed>``), whatever their numbers; 0 draws every episode equally often. Fixing it keeps a model's
    exposure to Meta-World's scenes when generated tasks are added (steps x share = steps on Meta-World)."""
    held_out_goal: int = 2
    """Index of the goal paraphrase never used in training (`sole eval reward --goal-index 2` reads it)."""
    shift: int = 4
    """Random-shift augmentation in pixels (0: off); the same shift for a sample's three frames."""


@dataclass
class Example:
    """One training query, before frames are gathered."""

    episode: int
    t: int
    prev: int
    goal_task: str
    goal: str
    prev_progress: float
    progress: float
    reverse: bool = False
    """Whether the episode is played backwards; ``t`` and ``prev`` are positions in the played video."""

    def source(self, n: int) -> list[int]:
        """Indices into the stored episode (``n`` frames) of the played first, previous and current frames."""
        return [int(played_order(n, self.reverse)[i]) for i in (0, self.prev, self.t)]


def train_goals(goals: tuple[str, ...], held_out: int) -> tuple[str, ...]:
    return tuple(g for i, g in enumerate(goals) if i != held_out) or goals


class Sampler:
    """Draws `Example`s from a list of episodes; ``tasks`` are the tasks the model may be told about."""

    def __init__(self, episodes: list[Episode], tasks: tuple[str, ...], cfg: SampleConfig, seed: int = 0):
        if not episodes:
            raise ValueError("no episodes to sample from")
        self.episodes, self.tasks, self.cfg = episodes, tasks, cfg
        self.rng = np.random.default_rng(seed)
        generated = np.array([get_task(ep.task).fold == PROC_FOLD for ep in episodes])
        self.pools = (np.flatnonzero(~generated), np.flatnonzero(generated))
        """Indices of the Meta-World and the generated episodes."""

    def goal_task(self, ep: Episode) -> str:
        """A goal task for ``ep``: its own, a counterfactual of its scene, or a mismatch (label 0)."""
        u = self.rng.random()
        if u < self.cfg.p_own:
            return ep.task
        if u < self.cfg.p_own + self.cfg.p_counterfactual:
            allowed = [g for g in ep.labels if g != ep.task and (self.cfg.cf_goals == "scene" or g in self.tasks)]
            return str(self.rng.choice(allowed)) if allowed else ep.task
        scene = get_task(ep.task).scene
        others = [t for t in self.tasks if get_task(t).scene != scene]
        return str(self.rng.choice(others)) if others else ep.task

    def derived_or_goal_task(self, ep: Episode) -> str:
        """A derived goal's name for a ``p_derived`` share of samples, else `goal_task`. No draw is spent when
        ``p_derived`` is 0, so such runs sample exactly as before derived goals existed."""
        if self.cfg.p_derived > 0 and self.rng.random() < self.cfg.p_derived:
            offered = [g for g in derived_goals(ep.task, ep.facts) if g.part in self.cfg.derived_parts]
            parts = sorted({g.part for g in offered})
            if parts:
                part = parts[int(self.rng.integers(len(parts)))]
                same = [g for g in offered if g.part == part]
                return same[int(self.rng.integers(len(same)))].name
        return self.goal_task(ep)

    def draw_episode(self) -> int:
        """An episode index: uniform, or from Meta-World's with probability ``p_meta_world`` where both kinds are
        present (no extra draw otherwise, so runs without it sample as before)."""
        meta_world, generated = self.pools
        if self.cfg.p_meta_world > 0 and len(meta_world) and len(generated):
            pool = meta_world if self.rng.random() < self.cfg.p_meta_world else generated
            return int(pool[self.rng.integers(len(pool))])
        return int(self.rng.integers(len(self.episodes)))

    def example(self) -> Example:
        i = self.draw_episode()
        ep = self.episodes[i]
        goal_task = self.derived_or_goal_task(ep)
        t = int(self.rng.integers(1, len(ep)))
        prev = max(0, t - int(self.rng.integers(1, self.cfg.max_gap + 1)))
        reverse = bool(self.rng.random() < self.cfg.p_reverse)
        label = played_label(ep, goal_task, reverse)
        noise = self.rng.normal(0.0, self.rng.uniform(0.0, self.cfg.prior_noise))
        prior = float(np.clip(label[prev] + noise, -1.0, 1.0))
        if self.rng.random() < self.cfg.p_random_prior:
            extreme = self.rng.random() < self.cfg.p_extreme_prior
            prior = float(self.rng.integers(2) if extreme else self.rng.uniform(0.0, 1.0))
        prior = prior if prev > 0 else 0.0
        goal = str(self.rng.choice(train_goals(goal_texts(ep, goal_task), self.cfg.held_out_goal)))
        return Example(episode=i, t=t, prev=prev, goal_task=goal_task, goal=goal, prev_progress=prior,
                       progress=float(label[t]), reverse=reverse)

    def batch(self, n: int) -> list[Example]:
        return [self.example() for _ in range(n)]


def goal_texts(ep: Episode, goal_task: str) -> tuple[str, ...]:
    """Paraphrases of a task's or a derived goal (which names ``ep``'s object)."""
    return derived_goal(ep.task, goal_task).goals if is_derived(goal_task) else get_task(goal_task).goals


def played_label(ep: Episode, goal_task: str, reverse: bool) -> np.ndarray:
    """Progress of ``goal_task`` (a task or derived goal) along ``ep`` as played."""
    if is_derived(goal_task):
        return derived_goal(ep.task, goal_task).label(ep.facts, played_order(len(ep), reverse))
    return ep.label(goal_task)[::-1] if reverse else ep.label(goal_task)


def played_order(n: int, reverse: bool) -> np.ndarray:
    """Stored frame indices of an ``n``-frame episode in the order they are played."""
    return np.arange(n)[::-1] if reverse else np.arange(n)


def random_shift(x: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """Shift each (H, W, C) image of a batch (B, H, W, C) by up to ``pad`` pixels, edges replicated."""
    if pad <= 0:
        return x
    B, H, W, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    dy, dx = rng.integers(0, 2 * pad + 1, size=(2, B))
    return np.stack([padded[b, dy[b]: dy[b] + H, dx[b]: dx[b] + W] for b in range(B)])


class Shown(Protocol):
    """What `to_inputs` reads of a query: an `Example`, or a foundation question (`sole.train.qa.QAExample`)."""

    episode: int
    goal: str
    prev_progress: float

    def source(self, n: int) -> list[int]: ...


def to_inputs(episodes: list[Episode], examples: Sequence[Shown], views: tuple[str, ...],
              shift: int = 0, rng: np.random.Generator | None = None) -> Inputs:
    """Gather the frames of ``examples`` into model inputs (uint8 stays uint8 until the model converts it)."""
    frames = {}
    for v in views:
        arr = np.stack([stack_frames(*episodes[e.episode].frames[v][e.source(len(episodes[e.episode]))])
                        for e in examples])
        frames[v] = torch.from_numpy(random_shift(arr, shift, rng or np.random.default_rng()))  # (B, H, W, 9)
    prev = torch.tensor([e.prev_progress for e in examples], dtype=torch.float32)
    return Inputs(frames=frames, goals=[e.goal for e in examples], prev_progress=prev)


def split_episodes(episodes: list[Episode], val_every: int) -> tuple[list[Episode], list[Episode]]:
    """Per task, every ``val_every``-th episode (in index order) goes to validation; the rest to training."""
    seen: dict[str, int] = {}
    train, val = [], []
    for ep in sorted(episodes, key=lambda e: e.index):
        n = seen.get(ep.task, 0)
        seen[ep.task] = n + 1
        (val if val_every > 0 and n % val_every == val_every - 1 else train).append(ep)
    return train, val


def query_facts(ep: Episode, ex: Example) -> tuple[dict, dict]:
    """Facts of the previous and current frame of ``ex`` as played (``t`` is the played time)."""
    _, prev, cur = (ep.step_facts(i, t) for i, t in zip(ex.source(len(ep)), (0, ex.prev, ex.t), strict=True))
    return prev, cur


def completion(ep: Episode, ex: Example, rng: np.random.Generator) -> str:
    """The target text of ``ex``: the synthesis CoT generator's completion from the facts of both steps."""
    from sole.data.cot import make_cot

    if is_derived(ex.goal_task):
        return derived_cot(derived_goal(ep.task, ex.goal_task), ep.facts, played_order(len(ep), ex.reverse), ex.t)
    return make_cot(ex.goal_task, ex.goal, *query_facts(ep, ex), ex.prev_progress, ex.progress, rng)
