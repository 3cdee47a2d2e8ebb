import pytest

from sole.models.base import Step
from sole.train.evaluate import EvalSpec, evaluate, unrelated_task


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
            out.append(Step(progress=float(p), text=f"<think>t=1: x.</think><answer>{round(100 * p)}%</answer>"))
        return out


def test_evaluate_reports_grounding(episodes):
    eps = [e for e in episodes if e.task == "window-close"]
    m = evaluate(ReadsTheSquare(), eps, EvalSpec(goal_index=0, think_episodes=1))
    assert m["voc"] > 0.9 and m["mae"] < 0.05
    assert m["margin/opposite"] > 0.5 and m["win/opposite"] == 1.0 and m["margin/unrelated"] > 0.5
    assert m["think/format"] == 1.0


def test_unrelated_task_is_another_scene():
    assert unrelated_task("window-close") not in ("window-close", "window-open")


def test_empty():
    with pytest.raises(ValueError, match="no episodes"):
        evaluate(ReadsTheSquare(), [])


def test_main_compares_models_on_a_written_split(episodes, tmp_path):
    import json

    import torch

    from sole.data.store import write_shard
    from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
    from sole.models.tokenizer import WordTokenizer
    from sole.train.evaluate import EvalConfig, main

    eps = [e for e in episodes if e.task == "window-close"]
    write_shard(tmp_path / "eval", 0, eps, [i * len(eps[0]) for i in range(len(eps))])
    torch.manual_seed(0)
    ck = CompactModel.build(CompactConfig.tiny(), WordTokenizer.fit(["a"]), new_goal_vocab(["close the window"]))
    ck.save_pretrained(tmp_path / "ck")
    out = main(EvalConfig(models=(str(tmp_path / "ck"),), data=str(tmp_path / "eval"), tasks="window-close",
                          spec=EvalSpec(think_episodes=1), out=str(tmp_path / "r.json")))
    assert out[str(tmp_path / "ck")]["episodes"] == len(eps)
    assert json.loads((tmp_path / "r.json").read_text())["config"]["tasks"] == "window-close"
