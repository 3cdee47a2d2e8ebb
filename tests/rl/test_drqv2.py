import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from sole.reward.rewarder import RewardConfig
from sole.rl.drqv2 import DrQConfig, EpisodeReplay, main, random_shift

torch.set_num_threads(1)


def test_random_shift_keeps_shape_and_moves_pixels():
    x = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).reshape(2, 3, 16, 16)
    torch.manual_seed(0)
    y = random_shift(x, pad=2)
    assert y.shape == x.shape and not torch.equal(x, y)


def test_replay_stacks_frames_and_repeats_the_first():
    cfg = replace(DrQConfig.tiny(), horizon=4, size=2, frame_stack=3, n_step=2, buffer_episodes=2)
    replay = EpisodeReplay(cfg, channels=1, n_proprio=1)
    frames = [np.full((1, 2, 2), t, np.uint8) for t in range(5)]
    replay.add(frames, [np.zeros(1, np.float32)] * 5, [np.zeros(4, np.float32)] * 4, [1.0, 2.0, 3.0, 4.0])
    stacked = replay.stacked(np.array([0, 0]), np.array([0, 3]))
    assert stacked[:, :, 0, 0].tolist() == [[0, 0, 0], [1, 2, 3]]
    batch = replay.sample(8, np.random.default_rng(0))
    t0 = batch["obs"][:, -1, 0, 0].astype(int)  # current frame index = t
    np.testing.assert_allclose(batch["ret"], (t0 + 1) + cfg.gamma * (t0 + 2))
    assert (batch["next_obs"][:, -1, 0, 0] == t0 + 2).all()


def test_tiny_run_trains_and_evaluates(tmp_path):
    cfg = replace(DrQConfig.tiny(), steps=60, seed_steps=20, horizon=10, size=32, batch_size=8, hidden=32,
                  feature_dim=8, eval_every=30, eval_episodes=1, out=str(tmp_path))
    last = main(cfg)
    assert set(last) >= {"eval/success", "eval/hacking_rate"}
    rows = [json.loads(line) for line in (cfg.run_dir() / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 50, 60]
    assert np.isfinite(rows[-1]["train/critic_loss"]) and "eval/success" in rows[2]
    result = json.loads((cfg.run_dir() / "result.json").read_text())
    assert result["steps"] == 60 and result["eval/success"] == last["eval/success"]
    assert (cfg.run_dir() / "success.png").stat().st_size > 0
    assert cfg.run_dir().name == "reach-oracle-dense-s0"
    config = json.loads((cfg.run_dir() / "config.json").read_text())
    assert config["reward"]["source"] == "oracle-dense" and config["config_hash"] == result["config_hash"]


def test_a_sole_reward_run_gets_a_folder_named_after_its_reasoner(tmp_path, thinking_reasoner):
    cfg = replace(DrQConfig.tiny(), task="drawer-close", reward=RewardConfig(model="compact"), steps=20,
                  seed_steps=20, horizon=10, size=32, batch_size=8, hidden=32, feature_dim=8, eval_every=20,
                  eval_episodes=1, out=str(tmp_path))
    last = main(cfg, reasoner=thinking_reasoner)
    assert cfg.run_dir().name == "drawer-close-sole-compact-s0" and 0.0 <= last["eval/reward_progress"] <= 1.0


def test_a_bad_reward_fails_before_the_run_folder_is_written(tmp_path):
    with pytest.raises(ValueError, match="unknown reasoner 'nosuch'"):
        main(replace(DrQConfig.tiny(), reward=RewardConfig(model="nosuch"), out=str(tmp_path / "drq")))
    assert not (tmp_path / "drq").exists()
