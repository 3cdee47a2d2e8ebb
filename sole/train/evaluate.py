"""Held-out evaluation of a reasoner on episodes: the numbers SFT validates on and the fold models report.

Every curve comes from the SOLE-R1 loop (`sole.models.base.reason`): the reasoner's own previous answer is fed
back, as in RL. Metrics (`sole.eval.metrics`):

- ``voc``: Spearman of progress vs time on solved expert episodes, up to first success;
- ``mae``: per-frame |predicted - true| of the own goal, over all episodes (all kinds);
- ``final/correct``, ``final/opposite``, ``final/unrelated``: final progress on expert episodes under the correct
  goal, the opposite-verb goal of the same scene (where the task has one) and a goal of another scene;
  ``margin/opposite``, ``margin/unrelated``: correct minus each, ``win/opposite``: share of episodes where the
  correct goal ends higher (language grounding);
- ``hack/pair_acc``: per task and look-alike family (hover, near-miss), the share of (solved expert, look-alike
  whose label ends unsolved) pairs whose expert ends higher under the own goal, averaged
  (`sole.eval.metrics.hack_pair_accuracy`, as `sole eval reward` counts them);
- ``think/format``, ``think/mae``, ``think/facts``, ``think/hack_pair_acc``: on ``think_episodes`` of the
  episodes (evenly spread) read with reasoning on (every 10th frame), the share of answers that parse, the
  answers' error (the text decoder's own numbers, not the fast head), the share of claims (other than
  progress) that check against the facts (`sole.synth.cot.cot_fact_accuracy`) and the hacking-pair accuracy
  of the final answers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from sole.data.episode import Episode
from sole.envs.tasks import TASKS, get_task
from sole.eval.metrics import first_solved, hack_pair_accuracy, mae, voc
from sole.models.base import ANSWER_RE, Clip, Judgement, Reasoner, reason


@dataclass(frozen=True)
class EvalSpec:
    goal_index: int = 2
    """Which goal paraphrase to read (the one held out of training by default)."""
    stride: int = 1
    """Query every k-th frame."""
    think_episodes: int = 4
    """Episodes also read with reasoning on (slow: one decoded completion per step)."""
    max_episodes: int = 0
    """Cap on episodes, evenly spread (0: all)."""


HACK_KINDS = ("hover", "near-miss")
"""Look-alike families validated during training (the full set is read by `sole eval reward`)."""


def goal_text(task: str, index: int) -> str:
    goals = get_task(task).goals
    return goals[min(index, len(goals) - 1)]


def unrelated_task(task: str) -> str:
    """A fixed task of another scene, different object noun where possible (deterministic per task)."""
    spec = get_task(task)
    names = sorted(TASKS)
    start = names.index(task)
    for name in names[start + 1:] + names[:start]:
        other = TASKS[name]
        if other.scene != spec.scene and other.obj != spec.obj:
            return name
    raise ValueError(f"no unrelated task for {task!r}")


def readings(reasoner: Reasoner, episodes: list[Episode], goals: list[str], *, think: bool = False,
             stride: int = 1) -> list[Judgement]:
    clips = [Clip({v: ep.frames[v] for v in reasoner.views}) for ep in episodes]
    return reason(reasoner, clips, goals, think=think, stride=stride)


def _cap(items: list[Episode], n: int) -> list[Episode]:
    """At most ``n`` episodes, evenly spread over the list (so every task and kind keeps a share)."""
    if n <= 0 or len(items) <= n:
        return items
    return [items[int(i * len(items) / n)] for i in range(n)]


def grounding(reasoner: Reasoner, experts: list[Episode], correct: list[float], spec: EvalSpec) -> dict[str, float]:
    """Final progress under the correct (given), opposite-verb and unrelated goals on the same expert videos."""
    unrelated = [j.progress for j in readings(reasoner, experts, [goal_text(unrelated_task(e.task), spec.goal_index)
                                                          for e in experts], stride=spec.stride)]
    out = {"final/correct": float(np.mean(correct)), "final/unrelated": float(np.mean(unrelated)),
           "margin/unrelated": float(np.mean(np.subtract(correct, unrelated)))}
    with_opp = [i for i, e in enumerate(experts) if get_task(e.task).opposite]
    if with_opp:
        opp_eps = [experts[i] for i in with_opp]
        opp = [j.progress for j in readings(reasoner, opp_eps, [goal_text(get_task(e.task).opposite, spec.goal_index)
                                                         for e in opp_eps], stride=spec.stride)]
        diff = np.subtract([correct[i] for i in with_opp], opp)
        out |= {"final/opposite": float(np.mean(opp)), "margin/opposite": float(np.mean(diff)),
                "win/opposite": float(np.mean(diff > 0))}
    return out


def think_stats(reasoner: Reasoner, episodes: list[Episode], spec: EvalSpec) -> dict[str, float]:
    goals = [goal_text(e.task, spec.goal_index) for e in episodes]
    judged = readings(reasoner, episodes, goals, think=True, stride=max(spec.stride, 10))
    texts = [s.text for j in judged for _, s in j.steps]
    errs = [abs(s.progress - ep.label(ep.task)[t]) for j, ep in zip(judged, episodes, strict=True) for t, s in j.steps]
    finals = [j.progress for j in judged]
    return {"think/format": float(np.mean([ANSWER_RE.search(t) is not None for t in texts])),
            "think/mae": float(np.mean(errs)), "think/facts": float(np.mean(written_facts(episodes, judged))),
            "think/hack_pair_acc": task_hack_accuracy(episodes, finals)}


def written_facts(episodes: list[Episode], judged: list[Judgement]) -> list[float]:
    """`fact_accuracy` of every written step of the episodes' own-goal readings, each about the frames since the
    previous queried one (the first frame for the first)."""
    return [fact_accuracy(ep, ep.task, prev, t, step.text) for ep, j in zip(episodes, judged, strict=True)
            for prev, (t, step) in zip([0] + [t for t, _ in j.steps[:-1]], j.steps, strict=True)]


def fact_accuracy(ep: Episode, goal_task: str, prev: int, t: int, text: str) -> float:
    """Share of a completion's non-progress claims about frames ``prev`` -> ``t`` of ``ep`` that its facts verify."""
    from sole.synth.cot import cot_fact_accuracy

    return cot_fact_accuracy(text, ep.step_facts(prev), ep.step_facts(t), float(ep.label(goal_task)[t]),
                             goal_task=goal_task)


def task_hack_accuracy(episodes: list[Episode], finals: list[float]) -> float:
    """Mean over tasks and `HACK_KINDS` of the hacking-pair accuracy of final progress; NaN if no pair exists."""
    accs = []
    for task in sorted({e.task for e in episodes}):
        mine = [(e, f) for e, f in zip(episodes, finals, strict=True) if e.task == task]
        kinds, labels, final = [e.kind for e, _ in mine], [e.label(task)[-1] for e, _ in mine], [f for _, f in mine]
        accs += [hack_pair_accuracy(kinds, np.array(labels), np.array(final), kind) for kind in HACK_KINDS]
    accs = [a for a in accs if not np.isnan(a)]
    return float(np.mean(accs)) if accs else float("nan")


def evaluate(reasoner: Reasoner, episodes: list[Episode], spec: EvalSpec = EvalSpec()) -> dict[str, float]:
    """All held-out metrics of ``reasoner`` on ``episodes`` (see the module docstring)."""
    if not episodes:
        raise ValueError("no episodes to evaluate on")
    eps = _cap(episodes, spec.max_episodes)
    own = readings(reasoner, eps, [goal_text(e.task, spec.goal_index) for e in eps], stride=spec.stride)
    out = {"mae": float(np.mean([mae(j.per_frame, e.label(e.task)) for j, e in zip(own, eps, strict=True)])),
           "episodes": float(len(eps)), "hack/pair_acc": task_hack_accuracy(eps, [j.progress for j in own])}
    ends = [first_solved(e.label(e.task)) if e.kind == "expert" else None for e in eps]
    experts = [i for i, end in enumerate(ends) if end]  # solved experts
    if experts:
        out["voc"] = float(np.mean([voc(own[i].answers(ends[i])) for i in experts]))
        out |= grounding(reasoner, [eps[i] for i in experts], [own[i].progress for i in experts], spec)
    if spec.think_episodes > 0:
        out |= think_stats(reasoner, think_subset(episodes, spec), spec)
    return out


def think_subset(episodes: list[Episode], spec: EvalSpec) -> list[Episode]:
    """The episodes `evaluate` also reads with reasoning on."""
    return _cap(_cap(episodes, spec.max_episodes), spec.think_episodes)


def per_task(reasoner: Reasoner, episodes: list[Episode], spec: EvalSpec = EvalSpec()) -> dict[str, dict[str, float]]:
    """`evaluate` per task (think stats off), for the held-out tables."""
    tasks = sorted({e.task for e in episodes})
    no_think = EvalSpec(goal_index=spec.goal_index, stride=spec.stride, think_episodes=0,
                        max_episodes=spec.max_episodes)
    return {t: evaluate(reasoner, [e for e in episodes if e.task == t], no_think) for t in tasks}


@dataclass(frozen=True)
class EvalConfig:
    """Evaluate reasoners on a synthesized split (``python -m sole.train.evaluate``)."""

    models: tuple[str, ...] = ("compact:fold-a",)
    """Reasoner specs or checkpoint directories, compared side by side on the same episodes."""
    data: str = "data/synth-v2/eval"
    """Dataset root."""
    tasks: str = "fold-b"
    """Tasks whose episodes are read."""
    spec: EvalSpec = field(default_factory=lambda: EvalSpec(think_episodes=40))
    """What is measured."""
    out: str = "runs/evaluate.json"
    """Results JSON."""


def main(cfg: EvalConfig) -> dict[str, dict[str, float]]:
    from rich.console import Console
    from rich.table import Table

    from sole.envs.tasks import resolve_tasks
    from sole.models.registry import load_reasoner
    from sole.train.samples import read_episodes

    episodes = read_episodes(cfg.data, resolve_tasks(cfg.tasks))
    results = {m: evaluate(load_reasoner(m), episodes, cfg.spec) for m in cfg.models}
    table = Table(title=f"{cfg.tasks} of {cfg.data}, goal paraphrase {cfg.spec.goal_index}")
    table.add_column("metric")
    for m in cfg.models:
        table.add_column(m, justify="right")
    for key in next(iter(results.values())):
        table.add_row(key, *(f"{results[m].get(key, float('nan')):.3f}" for m in cfg.models))
    Console().print(table)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    Path(cfg.out).write_text(json.dumps({"config": asdict(cfg), "results": results}, indent=2))
    return results


if __name__ == "__main__":
    import tyro

    main(tyro.cli(EvalConfig))
