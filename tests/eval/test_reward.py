import json

import numpy as np
import pytest

from sole.data.build import SynthConfig
from sole.data.build import main as synth
from sole.eval.protocol import EvalSpec, written_facts
from sole.eval.reward import EvalRewardConfig, main
from sole.models.base import Judgement


@pytest.fixture(scope="module")
def eval_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("evalset")
    synth(SynthConfig(tasks="drawer-close", out=str(out), mix="expert=1", eval_per_kind=1, shard_size=20,
                      workers=1, env_steps=16))
    return out / "eval"


def test_eval_reward_writes_every_metric(eval_set, tiny_checkpoint, tmp_path):
    cfg = EvalRewardConfig(data=str(eval_set), model=tiny_checkpoint, tasks="drawer-close", out=str(tmp_path),
                           protocol=EvalSpec(n_other_goals=2))
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


def test_fact_accuracy_scores_the_claims_not_the_answer(eval_set):
    """Reasoning whose claims are the synthesis's own (true) ones scores 1 whatever progress it answers: the
    answer is MAE's to judge."""
    from sole.data.cot import make_cot
    from sole.data.store import load_episodes
    from sole.models.base import Step

    ep = load_episodes(eval_set)[0]
    label = ep.label(ep.task)
    steps = [(t, Step(0.5, make_cot(ep.task, "close the drawer", ep.step_facts(t - 4), ep.step_facts(t), 0.0,
                                    float(label[t]), np.random.default_rng(t)).replace(
        f"<answer>{round(100 * float(label[t]))}%</answer>", "<answer>50%</answer>")))
             for t in range(4, len(ep), 4)]
    judged = Judgement(0.5, np.full(len(ep), 0.5), steps)
    assert written_facts([ep], [judged]) == [1.0] * len(steps)
    wrong = Judgement(0.5, np.full(len(ep), 0.5), [(t, Step(0.5, "no reasoning")) for t, _ in steps])
    assert written_facts([ep], [wrong]) == [0.0] * len(steps)
