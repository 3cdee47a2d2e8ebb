import json

import pytest
import torch

from sole.reward.rewarder import RewardConfig
from sole.rl.replay import ReplayConfig, main
from sole.rl.sac import SACConfig
from sole.rl.sac import main as train

torch.set_num_threads(1)


def test_every_reward_reads_the_same_replayed_episodes(tmp_path, tiny_checkpoint):
    run = train(SACConfig(task="reach", reward=RewardConfig(source="oracle-dense"), steps=60, horizon=20,
                          learning_starts=20,
                          batch_size=16, hidden=(16, 16), eval_every=0, eval_episodes=2, checkpoint_every=60,
                          videos=0, progress=False, out=str(tmp_path / "rl")))
    cfg = ReplayConfig(runs=(str(run),), models=(tiny_checkpoint, f"checked:{tiny_checkpoint}"), episodes=2,
                       out=str(tmp_path / "replay"))
    out = main(cfg)
    report = json.loads((out / "replay.json").read_text())
    table = report["runs"][run.name]
    plain, checked = table[tiny_checkpoint], table[f"checked:{tiny_checkpoint}"]
    assert (plain["success"], plain["true_progress"]) == (checked["success"], checked["true_progress"])
    for row in (plain, checked):
        assert 0.0 <= row["hacking_rate"] <= 1.0 and -1.0 <= row["reward_progress"] <= 1.0
    assert (out / "replay.png").stat().st_size > 0
    cached = (out / f"{run.name}.json").stat().st_mtime_ns
    main(cfg)  # a rerun reads the finished run from its JSON
    assert (out / f"{run.name}.json").stat().st_mtime_ns == cached


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    cfg = ReplayConfig(runs=(str(tmp_path),), out=str(tmp_path / "replay"))
    with pytest.raises(FileNotFoundError, match="not a `sole rl` run folder"):
        main(cfg)
    (tmp_path / "config.json").write_text(json.dumps({"task": "reach"}))
    with pytest.raises(FileNotFoundError, match="policy.zip not found"):
        main(cfg)
    with pytest.raises(ValueError, match="at least one run"):
        main(ReplayConfig(runs=()))
