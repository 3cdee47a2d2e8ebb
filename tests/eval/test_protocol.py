import numpy as np
import pytest

from sole.eval import protocol
from sole.eval.protocol import EvalSpec, Validation, evaluate_task, mean_row
from sole.models.base import Judgement, Step
from sole.synth.episode import Episode


class ReadsTheSquare:
    """A stand-in reasoner that reads the synthetic square's position from the pixels and the verb from the goal."""

    views = ("external", "wrist")

    def judge(self, queries, *, think=True):
        out = []
        for q in queries:
            cols = (q.current["external"][20:32, :, 0] == 255).any(axis=0).nonzero()[0]
            p = (cols[0] - 4) / 48 if len(cols) else 0.0
            if "open" in q.goal or "lift" in q.goal:
                p = 1 - p
            if "window" not in q.goal:
                p = 0.0
            out.append(Step(progress=float(p), text=f"<think>t=1: x.</think><answer>{round(100 * p)}%</answer>"
                            if think else ""))
        return out


def test_a_reader_of_scene_and_verb_scores_high_on_every_measure(episodes):
    eps = [e for e in episodes if e.task == "window-close"]
    row = evaluate_task(ReadsTheSquare(), "window-close", eps, EvalSpec(n_other_goals=2), np.random.default_rng(0))
    assert row["voc"] > 0.9 and row["mae"] < 0.05 and row["auroc"] == 1.0
    assert row["win/opposite"] == 1.0 and row["win/unrelated"] == 1.0 and row["confusion"] > 0.5
    assert row["voc/opposite"] < -0.9  # the opening goal on a closing video: progress falls
    assert np.isnan(row["vroc"]) and "cot_fact_acc" not in row  # no reversed episode; no reasoning written


def test_validation_is_the_task_mean_of_the_protocol_plus_a_reasoning_reading(episodes):
    eps = [e for e in episodes if e.task in ("window-close", "drawer-close")]
    got = Validation(think_episodes=2)(ReadsTheSquare(), eps)
    rows = [evaluate_task(ReadsTheSquare(), t, [e for e in eps if e.task == t], EvalSpec(), rng)
            for t, rng in zip(("window-close", "drawer-close"), [np.random.default_rng(0)] * 2, strict=True)]
    assert got["voc"] == pytest.approx(mean_row(rows)["voc"]) and got["episodes"] == len(eps)
    assert got["mae"] == pytest.approx(np.mean([r["mae"] for r in rows]))
    assert "think/cot_fact_acc" in got and "think/voc" in got


def test_empty():
    with pytest.raises(ValueError, match="no episodes"):
        Validation()(ReadsTheSquare(), [])


def test_look_alike_that_solves_the_task_is_not_a_hacking_pair(monkeypatch):
    def episode(kind, final):
        n = 4
        return Episode(task="button-press", kind=kind, seed=0, frames={}, facts=[{}] * n, success=final >= 0.95,
                       labels={"button-press": np.linspace(0.0, final, n, dtype=np.float32)},
                       actions=np.zeros((n, 4), np.float32))

    eps = [episode("expert", 1.0), episode("hover", 1.0), episode("hover", 0.1), episode("near-miss", 0.7)]
    said = {id(e): p for e, p in zip(eps, (0.9, 1.0, 0.2, 0.95), strict=True)}  # fooled by the near-miss only
    monkeypatch.setattr(protocol, "_score", lambda r, jobs, spec: [
        Judgement(said[id(ep)], np.full(4, said[id(ep)])) for ep, _ in jobs])
    monkeypatch.setattr(protocol, "_language", lambda *a: {})
    row = evaluate_task(None, "button-press", eps, EvalSpec(), np.random.default_rng(0))
    assert row["hack/hover"] == 1.0  # the hover that pressed the button (label 1.0) is not a look-alike here
    assert row["hack/near-miss"] == 0.0 and row["hack_acc"] == 0.5
