import json

import torch

from sole.reward.rewarder import RewardConfig
from sole.rl.bench import BenchConfig, main

torch.set_num_threads(1)


def test_bench_splits_the_step_with_the_reward_on_and_off(tmp_path, thinking_reasoner):
    out = tmp_path / "bench.json"
    cfg = BenchConfig(task="reach", steps=4, updates=2, batch_size=16, hidden=(16,), n_envs=2, size=32, out=str(out))
    result = main(cfg, reasoner=thinking_reasoner)
    assert result["on/render_ms"] > 0 and result["on/reward_ms"] > 0 and result["update/ms_per_update"] > 0
    assert result["on/total_ms"] > result["off/total_ms"]
    assert result["reward_overhead_vs_step_render"] == result["on/reward_ms"] / (
        result["on/physics_ms"] + result["on/render_ms"])
    assert json.loads(out.read_text())["config"]["n_envs"] == 2


def test_bench_times_an_oracle_reading_the_state(tmp_path):
    cfg = BenchConfig(task="reach", reward=RewardConfig(source="oracle-dense"), steps=3, updates=0, size=32,
                      out=str(tmp_path / "bench.json"))
    assert main(cfg)["on/reward_ms"] > 0  # the oracle is handed each step's simulator state to read
