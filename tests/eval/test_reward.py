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
