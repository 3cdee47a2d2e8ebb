import json
from dataclasses import replace

import numpy as np
import pytest

from sole.eval.reward import EvalRewardConfig, first_solved, main, model_for
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
    for key in ("voc", "vroc", "mae", "auroc", "hack_acc", "confusion", "win/opposite", "win/unrelated"):
        assert key in row
    assert 0 <= row["mae"] <= 2
    assert json.loads((tmp_path / "metrics.json").read_text())["tasks"][0]["task"] == "drawer-close"
    assert (tmp_path / "reward_metrics.png").stat().st_size > 0


def test_missing_task_is_a_clear_error(eval_set, tiny_checkpoint, tmp_path):
    cfg = EvalRewardConfig(data=str(eval_set), model=tiny_checkpoint, tasks="reach", out=str(tmp_path))
    with pytest.raises(ValueError, match="no evaluation episodes .* reach"):
        main(cfg)


def test_held_out_model_never_saw_the_task():
    assert model_for("window-close", EvalRewardConfig()) == "compact:fold-b"
    assert model_for("window-open", EvalRewardConfig()) == "compact:fold-a"
    assert model_for("window-open", replace(EvalRewardConfig(), model="x")) == "x"


def test_first_solved():
    assert first_solved(np.array([0.1, 0.5, 0.96, 0.97])) == 3
    assert first_solved(np.array([0.1, 0.5])) is None
