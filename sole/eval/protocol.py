"""The evaluation protocol: how a reasoner's readings of labelled episodes become reward metrics.

`sole eval reward` (``metrics.json``) and the validation of `sole train sft` and `sole train grpo` (``val.json``,
``metrics.jsonl``) measure with this one protocol, so a figure of the same name means the same thing in each.

Every episode of a task is read under the task's goal (paraphrase ``goal_index``; 0 is the one RL's reward
reads) through the SOLE-R1 loop (`sole.models.base.reason`), the reasoner's own previous answer fed back as in RL.
Per task (`evaluate_task`; the measures themselves are `sole.eval.metrics`):

- ``voc``: VOC of the answers on solved expert episodes, up to their first solved frame; ``vroc`` the same on
  reversed episodes (near -1 for a reader of the scene rather than the clock);
- ``mae``: per-frame |predicted - true| under the own goal, over every episode;
- ``auroc``: how well the final answer separates episodes that ended solved from the rest;
- ``hack/<family>``: hacking-pair accuracy against each look-alike family of `HACK_KINDS` (only look-alikes whose
  own label ends unsolved count), and ``hack_acc`` their mean;
- language, on the solved expert videos read under other goals: ``confusion`` (correct-goal final progress minus
  the mean under ``n_other_goals`` goals of other scenes), ``win/unrelated`` and ``win/opposite`` (share where the
  correct goal ends higher than each other goal, and than the opposite verb of the same scene), ``voc/opposite``
  (VOC under the opposite verb, near -1 for a reader of the verb);
- with ``think``, every reading writes its reasoning (the answers are then the written ones) and
  ``cot_fact_acc`` is the share of the written claims (the progress number aside) that the simulator's facts
  verify.

`mean_row` averages the task rows over the tasks that have a value. Training precedes evaluation on the data
path, so the training loops never import this module: they take a validation callable (`sole.train.sft.Validate`),
and the commands `sole train sft` and `sole train grpo` (`sole.cli`) hand them a `Validation` from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sole.data.cot import cot_fact_accuracy
from sole.envs.check import finite_mean
from sole.envs.progress import SOLVED_FLOOR
from sole.envs.tasks import TASKS, get_task
from sole.eval.metrics import auroc, confusion_margin, first_solved, hack_pair_accuracy, mae, voc
from sole.models.base import Clip, Judgement, Reasoner, reason
from sole.synth.episode import Episode
from sole.train.samples import spread

HACK_KINDS = ("hover", "near-miss", "look-away", "frozen", "occluded", "reversed", "policy")
"""Rollout kinds that look like progress without doing the task; each is paired against successful experts.
``policy`` is a trained RL policy's rollout (`sole rl mine`); like every family, only those that end unsolved
count."""


@dataclass(frozen=True)
class EvalSpec:
    goal_index: int = 0
    """Goal paraphrase of each task that is read (0: the one RL's reward reads)."""
    stride: int = 1
    """Query every k-th frame and interpolate (the published tooling uses ~10 queries per video)."""
    think: bool = False
    """Generate the reasoning text too (slower): the answers are the written ones, and ``cot_fact_acc`` is added."""
    n_other_goals: int = 3
    """Goals of other scenes each solved expert video is also read under, for the confusion margin."""
    seed: int = 0
    """Seeds the choice of those goals."""


def readings(reasoner: Reasoner, episodes: list[Episode], goals: list[str], *, think: bool = False,
             stride: int = 1) -> list[Judgement]:
    """The reasoner's reading of each episode under its goal (the views it reads, in one batched loop)."""
    clips = [Clip({v: ep.frames[v] for v in reasoner.views}) for ep in episodes]
    return reason(reasoner, clips, goals, think=think, stride=stride)


def goal_text(task: str, index: int) -> str:
    """Paraphrase ``index`` of the task's goal (its last when it has fewer)."""
    goals = get_task(task).goals
    return goals[min(index, len(goals) - 1)]


def _score(reasoner: Reasoner, jobs: list[tuple[Episode, str]], spec: EvalSpec) -> list[Judgement]:
    """Readings of (episode, goal task) pairs."""
    return readings(reasoner, [ep for ep, _ in jobs], [goal_text(g, spec.goal_index) for _, g in jobs],
                    think=spec.think, stride=spec.stride)


def _other_scene_tasks(task: str, rng: np.random.Generator, n: int) -> list[str]:
    scene = get_task(task).scene
    pool = sorted(name for name, s in TASKS.items() if s.scene != scene)
    return list(rng.choice(pool, size=min(n, len(pool)), replace=False))


def evaluate_task(reasoner: Reasoner, task: str, episodes: list[Episode], spec: EvalSpec,
                  rng: np.random.Generator) -> dict:
    """All metrics of one task from its episodes (see the module docstring)."""
    own = _score(reasoner, [(ep, task) for ep in episodes], spec)
    final = np.array([j.progress for j in own])
    final_labels = np.array([ep.label(task)[-1] for ep in episodes])
    solved = final_labels >= SOLVED_FLOOR
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, ep in enumerate(episodes):
        by_kind[ep.kind].append(i)
    experts = [i for i in by_kind.get("expert", []) if solved[i]]
    row: dict = {
        "task": task, "episodes": len(episodes),
        "voc": float(np.mean([voc(own[i].answers(first_solved(episodes[i].label(task)))) for i in experts]))
        if experts else float("nan"),
        "vroc": float(np.mean([voc(own[i].answers()) for i in by_kind.get("reversed", [])]))
        if by_kind.get("reversed") else float("nan"),
        "mae": float(np.mean([mae(j.per_frame, ep.label(task)) for j, ep in zip(own, episodes, strict=True)])),
        "auroc": auroc(final, solved),
    }
    kinds = [ep.kind for ep in episodes]
    for kind in HACK_KINDS:
        row[f"hack/{kind}"] = hack_pair_accuracy(kinds, final_labels, final, kind)
    row["hack_acc"] = finite_mean([v for k, v in row.items() if k.startswith("hack/")])
    row.update(_language(reasoner, task, [episodes[i] for i in experts], final[experts], spec, rng))
    if spec.think:
        row["cot_fact_acc"] = finite_mean(written_facts(episodes, own))
    return row


def _language(reasoner: Reasoner, task: str, experts: list[Episode], correct: np.ndarray, spec: EvalSpec,
              rng: np.random.Generator) -> dict:
    """Confusion margin and grounding: the same expert videos under other goals."""
    if not experts:
        return {"confusion": float("nan"), "win/opposite": float("nan"), "win/unrelated": float("nan"),
                "voc/opposite": float("nan")}
    others = _other_scene_tasks(task, rng, spec.n_other_goals)
    jobs = [(ep, o) for ep in experts for o in others]
    opposite = get_task(task).opposite
    if opposite:
        jobs += [(ep, opposite) for ep in experts]
    judged = _score(reasoner, jobs, spec)
    finals = np.array([j.progress for j in judged])
    n = len(experts) * len(others)
    unrelated = finals[:n].reshape(len(experts), len(others))
    return {
        "confusion": float(np.mean([confusion_margin(c, list(u)) for c, u in zip(correct, unrelated, strict=True)])),
        "win/unrelated": float(np.mean(correct[:, None] > unrelated)),
        "win/opposite": float(np.mean(correct > finals[n:])) if opposite else float("nan"),
        # the same expert read under the opposite verb: a model that reads the verb sees progress fall (near -1)
        "voc/opposite": float(np.mean([voc(j.answers(first_solved(ep.label(task))))
                                       for j, ep in zip(judged[n:], experts, strict=True)])) if opposite
        else float("nan"),
    }


def written_facts(episodes: list[Episode], judged: list[Judgement]) -> list[float]:
    """Per written step of the episodes' own-goal readings, the share of its claims (the progress number aside,
    which MAE judges) that the facts of the frames since the previous queried one (the first frame for the
    first) verify: the measure GRPO's fact reward also uses (`sole.data.cot.cot_fact_accuracy`)."""
    return [cot_fact_accuracy(step.text, ep.step_facts(prev), ep.step_facts(t), float(ep.label(ep.task)[t]),
                              goal_task=ep.task)
            for ep, j in zip(episodes, judged, strict=True)
            for prev, (t, step) in zip([0] + [t for t, _ in j.steps[:-1]], j.steps, strict=True)]


def mean_row(rows: Sequence[dict]) -> dict[str, float]:
    """Each metric of the task rows averaged over the tasks where it has a value."""
    keys = [k for k, v in rows[0].items() if isinstance(v, float)]
    return {k: finite_mean([r[k] for r in rows]) for k in keys}


def by_task(episodes: Sequence[Episode]) -> dict[str, list[Episode]]:
    """The episodes of each task, tasks in order of first appearance."""
    out: dict[str, list[Episode]] = defaultdict(list)
    for ep in episodes:
        out[ep.task].append(ep)
    return dict(out)


@dataclass(frozen=True)
class Validation:
    """The protocol as a training loop validates with it: a `sole.train.sft.Validate`.

    Called with a reasoner and episodes, it returns the task-averaged metrics (`mean_row`) and ``episodes``; with
    ``think_episodes``, the same read with reasoning on for that many of the episodes (evenly spread), every
    ``think_stride``-th frame, under ``think/``.
    """

    spec: EvalSpec = EvalSpec()
    """What is measured."""
    think_episodes: int = 0
    """Episodes also read with reasoning on (slow: one decoded completion per query)."""
    think_stride: int = 10
    """Query every k-th frame in the reasoning reading."""

    def __call__(self, reasoner: Reasoner, episodes: list[Episode]) -> dict[str, float]:
        if not episodes:
            raise ValueError("no episodes to validate on")
        out = {**self.mean(reasoner, episodes, self.spec), "episodes": float(len(episodes))}
        if self.think_episodes > 0:
            spec = replace(self.spec, think=True, stride=max(self.spec.stride, self.think_stride))
            out |= {f"think/{k}": v for k, v in self.mean(reasoner, spread(episodes, self.think_episodes),
                                                          spec).items()}
        return out

    @staticmethod
    def mean(reasoner: Reasoner, episodes: list[Episode], spec: EvalSpec) -> dict[str, float]:
        """`mean_row` of `evaluate_task` over the tasks of ``episodes``."""
        rng = np.random.default_rng(spec.seed)
        return mean_row([evaluate_task(reasoner, task, eps, spec, rng) for task, eps in by_task(episodes).items()])
