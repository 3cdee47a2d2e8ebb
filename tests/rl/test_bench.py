import json

import pytest
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
    assert result["update/ms_per_update"] == result["sb3-sac/ms_per_update"]
    assert result["reward_overhead_vs_step_render"] == result["on/reward_ms"] / (
        result["on/physics_ms"] + result["on/render_ms"])
    assert json.loads(out.read_text())["config"]["n_envs"] == 2


def test_bench_times_an_oracle_reading_the_state(tmp_path):
    cfg = BenchConfig(task="reach", reward=RewardConfig(source="oracle-dense"), steps=3, updates=0, size=32,
                      out=str(tmp_path / "bench.json"))
    assert main(cfg)["on/reward_ms"] > 0  # the oracle is handed each step's simulator state to read


@pytest.mark.slow  # imports JAX, whose threads make the forking tests that follow in one process risk a deadlock
def test_bench_times_each_learner_per_update_and_end_to_end(tmp_path):
    pytest.importorskip("sbx")
    cfg = BenchConfig(task="reach", reward=RewardConfig(source="oracle-dense"), steps=2, updates=3,
                      algos=("sbx-sac", "sb3-sac"), loop_steps=10, batch_size=16, hidden=(16,), size=32,
                      out=str(tmp_path / "bench.json"))
    result = main(cfg)
    for algo in cfg.algos:
        assert result[f"{algo}/ms_per_update"] > 0 and result[f"{algo}/loop_steps_per_s"] > 0
    assert result["update/ms_per_update"] == result["sbx-sac/ms_per_update"]  # the first is charged per step
