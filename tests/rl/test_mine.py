import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sole.cli import COMMANDS
from sole.data.build import SEED_STRIDE
from sole.data.store import load_datasets
from sole.reward.rewarder import RewardConfig
from sole.rl.mine import KIND, MineConfig, main, policy_actions
from sole.rl.sac import SACConfig
from sole.rl.sac import main as train_sac
from sole.synth.rollouts import N_FRAMES


@pytest.fixture(scope="module")
def mined(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    run = train_sac(SACConfig(task="drawer-close", reward=RewardConfig(source="oracle-dense"), steps=60, horizon=20,
                              learning_starts=20,
                              batch_size=16, hidden=(16, 16), eval_every=60, eval_episodes=1, checkpoint_every=60,
                              videos=0, size=32, progress=False, out=str(runs)))
    out = tmp_path_factory.mktemp("mined")
    cfg = MineConfig(runs=(str(run),), out=str(out), episodes=2, eval_episodes=1, sampled=0.5, size=32)
    return run, cfg, main(cfg)


def test_mined_episodes_are_labelled_policy_rollouts(mined):
    run, cfg, result = mined
    assert result["train"]["episodes"] == 2 and result["eval"]["episodes"] == 1
    eps = load_datasets(f"{cfg.out}/train,{cfg.out}/eval")
    assert [e.kind for e in eps] == [KIND] * 3 and {e.task for e in eps} == {"drawer-close"}
    for ep in eps:
        assert len(ep) == N_FRAMES and ep.frames["wrist"].shape == (N_FRAMES, 32, 32, 3)
        assert ep.meta["run"] == str(run) and isinstance(ep.meta["deterministic"], bool)
        assert set(ep.labels) == {"drawer-close", "drawer-open"}  # counterfactual goal of the scene, as synthesis
        assert 0.0 <= ep.label("drawer-close").min() and ep.label("drawer-close").max() <= 1.0
    train_seeds, eval_seeds = {e.seed for e in eps[:2]}, {e.seed for e in eps[2:]}
    assert not train_seeds & eval_seeds and min(train_seeds) >= cfg.seed * SEED_STRIDE  # apart from synth seed 0
    assert json.loads((Path(cfg.out) / "READY.json").read_text())["train"]["hash"] == result["train"]["hash"]


def test_the_policy_acts_on_the_state_every_agent_step_and_holds_between():
    class Recorder:
        def __init__(self):
            self.calls = 0

        def predict(self, obs, deterministic):
            self.calls += 1
            return np.full(4, obs[0], np.float32), None

    class Env:
        def observation(self):
            return np.full(39, 0.25)

    model = Recorder()
    policy = policy_actions(Env(), model, deterministic=True)
    actions = [policy(i) for i in range(6)]
    assert model.calls == 3 and all(np.allclose(a, 0.25) for a in actions)


def test_mining_twice_gives_the_same_episodes(mined, tmp_path):
    _, cfg, _ = mined
    again = replace(cfg, out=str(tmp_path), eval_episodes=0)
    main(again)
    first, second = load_datasets(f"{cfg.out}/train"), load_datasets(f"{tmp_path}/train")
    for a, b in zip(first, second, strict=True):
        assert a.seed == b.seed and np.array_equal(a.frames["external"], b.frames["external"])
        assert np.array_equal(a.actions, b.actions)


def test_evaluation_only_mining_writes_no_train_split(mined, tmp_path):
    _, cfg, _ = mined
    result = main(replace(cfg, out=str(tmp_path), episodes=0))
    assert set(result) == {"eval"} and result["eval"]["episodes"] == 1
    assert not (tmp_path / "train").exists()


def test_bad_runs_and_datasets_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="policy.zip not found: not a finished"):
        (tmp_path / "run").mkdir()
        (tmp_path / "run" / "config.json").write_text('{"task": "reach"}')
        main(MineConfig(runs=(str(tmp_path / "run"),), out=str(tmp_path / "m")))
    with pytest.raises(ValueError, match="need at least one run"):
        main(MineConfig(runs=(), out=str(tmp_path / "m")))
    with pytest.raises(ValueError, match="one of them >= 1"):
        main(MineConfig(runs=("r",), episodes=0, eval_episodes=0, out=str(tmp_path / "m")))
    with pytest.raises(FileNotFoundError, match="no dataset at"):
        load_datasets(f"{tmp_path}/nowhere")


def test_mining_is_an_rl_command():
    assert COMMANDS["rl mine"] == ("sole.rl.mine", "MineConfig", "main") and "synth mine" not in COMMANDS
