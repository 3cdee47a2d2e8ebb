import json

import pytest
import torch

from sole.rl.replay import ReplayConfig, main
from sole.rl.sac import SACConfig
from sole.rl.sac import main as train

torch.set_num_threads(1)


def test_every_reward_reads_the_same_replayed_episodes(tmp_path, tiny_checkpoint):
    run = train(SACConfig(task="reach", reward="oracle-dense", steps=60, horizon=20, learning_starts=20,
                          batch_size=16, hidden=(16, 16), eval_every=0, eval_episodes=2, checkpoint_every=60,
                          videos=0, progress=False, out=str(tmp_path)))
    out = main(ReplayConfig(run=str(run), models=(tiny_checkpoint, f"checked:{tiny_checkpoint}"), episodes=2))
    report = json.loads(out.read_text())
    plain, checked = report["rewards"][tiny_checkpoint], report["rewards"][f"checked:{tiny_checkpoint}"]
    assert out == run / "replay.json" and report["episodes"] == 2
    assert (plain["success"], plain["true_progress"]) == (checked["success"], checked["true_progress"])
    for row in (plain, checked):
        assert 0.0 <= row["hacking_rate"] <= 1.0 and -1.0 <= row["reward_progress"] <= 1.0


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a `sole rl` run folder"):
        main(ReplayConfig(run=str(tmp_path)))
    (tmp_path / "config.json").write_text(json.dumps({"task": "reach"}))
    with pytest.raises(FileNotFoundError, match="no policy.zip"):
        main(ReplayConfig(run=str(tmp_path)))
