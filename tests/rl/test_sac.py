import json

import pytest
import torch

from sole.rl.sac import SACConfig, main, read_metrics

torch.set_num_threads(1)

TINY = dict(steps=120, horizon=20, learning_starts=40, batch_size=32, hidden=(32, 32), eval_every=60,
            eval_episodes=2, checkpoint_every=60, videos=1, progress=False)


def test_sole_reward_run_writes_the_run_folder(tmp_path, thinking_reasoner):
    run = main(SACConfig(task="reach", reward="sole", out=str(tmp_path), **TINY), reasoner=thinking_reasoner)
    for name in ("config.json", "metrics.jsonl", "success.png", "result.json", "policy.zip", "videos/final-0.mp4",
                 "checkpoint/model.zip", "checkpoint/replay.pkl"):
        assert (run / name).exists(), name
    assert any((run / "tb").iterdir())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = {k for r in rows for k in r} - {"step"}
    assert all("/" in k for k in keys)
    assert {"eval/success", "eval/hacking_rate", "rollout/success", "train/critic_loss"} <= keys
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60, 120]
    result = json.loads((run / "result.json").read_text())
    assert result["steps"] == 120 and 0.0 <= result["eval/hacking_rate"] <= 1.0
    assert json.loads((run / "config.json").read_text())["reward"] == "sole"


def test_a_rerun_resumes_from_the_last_checkpoint(tmp_path):
    cfg = SACConfig(task="drawer-close", reward="oracle-dense", out=str(tmp_path), **TINY | {"videos": 0})
    run = main(cfg)
    (run / "result.json").unlink()
    run = main(SACConfig(**{**cfg.__dict__, "steps": 180}))
    ckpt = json.loads((run / "checkpoint" / "step.json").read_text())
    assert ckpt["step"] == 180
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60, 120, 180]
    train_rows = read_metrics(run, "train/n_updates")
    assert train_rows[-1]["train/n_updates"] > train_rows[0]["train/n_updates"]


@pytest.mark.parametrize(("field", "value", "match"), [
    ("task", "window-shut", "unknown task 'window-shut'; valid tasks:"),
    ("reward", "gpt", "unknown reward source 'gpt'; valid sources: sole, oracle-dense"),
])
def test_bad_names_give_clear_errors(tmp_path, field, value, match):
    with pytest.raises(ValueError, match=match):
        main(SACConfig(out=str(tmp_path), **{field: value}))


def test_read_metrics_drops_rows_of_an_interrupted_timeline(tmp_path):
    rows = [{"step": s, "eval/success": v} for s, v in ((10, 0.0), (20, 0.1), (30, 0.2), (20, 0.5), (30, 0.6))]
    rows.insert(2, {"step": 25, "train/loss": 1.0})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = read_metrics(tmp_path, "eval/success")  # crashed after 30, resumed from a checkpoint at 10
    assert [(r["step"], r["eval/success"]) for r in got] == [(10, 0.0), (20, 0.5), (30, 0.6)]
