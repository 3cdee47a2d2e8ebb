import json

import numpy as np
import pytest

from sole.data.episode import Episode
from sole.eval import reward
from sole.eval.reward import EvalRewardConfig, main
from sole.models.base import Judgement
from sole.synth.pipeline import SynthConfig
from sole.synth.pipeline import main as synth


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("evalset")
    synth(SynthConfig(tasks="drawer-close", out=str(out), mix="expert=1", eval_per_kind=1, shard_size=20,
                      workers=1, env_steps=16))
    return out / "eval"


def test_eval_reward_writes_every_metric(eval_set, tiny_checkpoint, tmp_path):
    cfg = EvalRewardConfig(data=str(eval_set), model=tiny_checkpoint, tasks="drawer-close", out=str(tmp_path),
                           n_other_goals=2)
    result = main(cfg)
    row = result["tasks"][0]
    for key in ("voc", "vroc", "mae", "auroc", "hack_acc", "confusion", "win/opposite", "voc/opposite",
                "win/unrelated"):
        assert key in row
    assert 0 <= row["mae"] <= 2
    assert json.loads((tmp_path / "metrics.json").read_text())["tasks"][0]["task"] == "drawer-close"
    assert (tmp_path / "reward_metrics.png").stat().st_size > 0


def test_missing_task_is_a_clear_error(eval_set, tiny_checkpoint, tmp_path):
    cfg = EvalRewardConfig(data=str(eval_set), model=tiny_checkpoint, tasks="reach", out=str(tmp_path))
    with pytest.raises(ValueError, match="no evaluation episodes .* reach"):
        main(cfg)


def test_look_alike_that_solves_the_task_is_not_a_hacking_pair(monkeypatch):
    def episode(kind, final):
        n = 4
        return Episode(task="button-press", kind=kind, seed=0, frames={}, facts=[{}] * n, success=final >= 0.95,
                       labels={"button-press": np.linspace(0.0, final, n, dtype=np.float32)},
                       actions=np.zeros((n, 4), np.float32))

    eps = [episode("expert", 1.0), episode("hover", 1.0), episode("hover", 0.1), episode("near-miss", 0.7)]
    said = {id(e): p for e, p in zip(eps, (0.9, 1.0, 0.2, 0.95), strict=True)}  # fooled by the near-miss only
    monkeypatch.setattr(reward, "_score", lambda r, jobs, cfg: [
        Judgement(said[id(ep)], np.full(4, said[id(ep)])) for ep, _ in jobs])
    monkeypatch.setattr(reward, "_language", lambda *a: {})
    row = reward.evaluate_task(None, "button-press", eps, reward.EvalRewardConfig(), np.random.default_rng(0))
    assert row["hack/hover"] == 1.0  # the hover that pressed the button (label 1.0) is not a look-alike here
    assert row["hack/near-miss"] == 0.0 and row["hack_acc"] == 0.5


def test_fact_accuracy_scores_the_claims_not_the_answer(eval_set):
    """Reasoning whose claims are the synthesis's own (true) ones scores 1 whatever progress it answers: the
    answer is MAE's to judge."""
    from sole.data.store import load_episodes
    from sole.models.base import Step
    from sole.synth.cot import make_cot

    ep = load_episodes(eval_set)[0]
    label = ep.label(ep.task)
    steps = [(t, Step(0.5, make_cot(ep.task, "close the drawer", ep.step_facts(t - 4), ep.step_facts(t), 0.0,
                                    float(label[t]), np.random.default_rng(t)).replace(
        f"<answer>{round(100 * float(label[t]))}%</answer>", "<answer>50%</answer>")))
             for t in range(4, len(ep), 4)]
    judged = Judgement(0.5, np.full(len(ep), 0.5), steps)
    assert reward._fact_accuracy([ep], [judged]) == 1.0
    wrong = Judgement(0.5, np.full(len(ep), 0.5), [(t, Step(0.5, "no reasoning")) for t, _ in steps])
    assert reward._fact_accuracy([ep], [wrong]) == 0.0
