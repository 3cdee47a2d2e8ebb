import json
from dataclasses import replace

import pytest
import torch
from stable_baselines3.common.save_util import load_from_pkl

import sole.rl.sac as sac
from sole.reward.rewarder import RewardConfig
from sole.rl.runs import current_checkpoint, read_metrics
from sole.rl.sac import SACConfig, main

torch.set_num_threads(1)

TINY = dict(steps=120, horizon=20, learning_starts=40, batch_size=32, hidden=(32, 32), eval_every=60,
            eval_episodes=2, checkpoint_every=60, videos=1, progress=False)
ORACLE = RewardConfig(source="oracle-dense")


def test_sole_reward_run_writes_the_run_folder(tmp_path, thinking_reasoner):
    run = main(SACConfig(task="reach", out=str(tmp_path), **TINY), reasoner=thinking_reasoner)
    for name in ("config.json", "metrics.jsonl", "success.png", "result.json", "policy.zip", "videos/final-0.mp4",
                 "checkpoint.json"):
        assert (run / name).exists(), name
    folder, step = current_checkpoint(run)
    assert step == 120 and (folder / "model.zip").exists() and (folder / "replay.pkl").exists()
    assert len(list((run / "tb").iterdir())) == 1
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    keys = {k for r in rows for k in r} - {"step"}
    assert all("/" in k for k in keys)
    assert {"eval/success", "eval/hacking_rate", "rollout/success", "train/critic_loss"} <= keys
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60, 120]
    result = json.loads((run / "result.json").read_text())
    assert result["steps"] == 120 and 0.0 <= result["eval/hacking_rate"] <= 1.0 and result["reward"] == "sole"
    config = json.loads((run / "config.json").read_text())
    assert config["reward"]["source"] == "sole" and config["config_hash"] == result["config_hash"]


def test_a_run_loads_its_reasoner_once(tmp_path, monkeypatch, thinking_reasoner):
    import sole.models.registry as registry

    loads = []
    monkeypatch.setattr(registry, "load_compact", lambda path: loads.append(path) or thinking_reasoner)
    cfg = SACConfig(task="reach", reward=RewardConfig(model="gated:held-out"), out=str(tmp_path),
                    **TINY | {"steps": 40, "eval_every": 0, "videos": 1, "size": 32})
    main(cfg)  # training, evaluation and video envs all read the one reasoner
    assert len(loads) == 1


def test_a_rerun_with_more_steps_extends_the_run(tmp_path):
    cfg = SACConfig(task="drawer-close", reward=ORACLE, out=str(tmp_path), **TINY | {"videos": 0})
    run = main(cfg)
    run = main(replace(cfg, steps=180))
    folder, step = current_checkpoint(run)
    assert step == 180 and json.loads((run / "result.json").read_text())["steps"] == 180
    assert load_from_pkl(folder / "replay.pkl").buffer_size == 180  # as a run trained to 180 at once
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60, 120, 180]
    train_rows = read_metrics(run, "train/n_updates")
    assert train_rows[-1]["train/n_updates"] > train_rows[0]["train/n_updates"]


@pytest.mark.parametrize(("change", "named"), [
    ({"lr": 1e-3, "hidden": (64, 64)}, ["lr: 0.0003 -> 0.001", "hidden: [32, 32] -> [64, 64]"]),
    ({"reward": RewardConfig(source="oracle-dense", scale=1.0)}, ["reward.scale: 10.0 -> 1.0"]),
    ({"task": "button-press"}, ["task: 'drawer-close' -> 'button-press'"]),
])
def test_a_rerun_with_other_settings_is_refused_and_no_resume_starts_over(tmp_path, change, named):
    cfg = SACConfig(task="drawer-close", reward=ORACLE, name="same", out=str(tmp_path),
                    **TINY | {"steps": 60, "videos": 0})
    run = main(cfg)
    before = (run / "config.json").read_text()
    other = replace(cfg, **change)
    with pytest.raises(ValueError, match="holds a run with other settings") as err:
        main(other)
    assert all(n in str(err.value) for n in named) and "--no-resume" in str(err.value)
    assert (run / "config.json").read_text() == before
    main(replace(other, resume=False))
    saved = json.loads((run / "config.json").read_text())
    assert saved["task"] == other.task and saved["lr"] == other.lr and saved["reward"]["scale"] == other.reward.scale
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60]  # the old run's rows are gone


def test_a_resumed_run_keeps_one_metrics_timeline(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = SACConfig(task="drawer-close", reward=ORACLE, out=str(tmp_path),
                    **TINY | {"eval_every": 30, "videos": 0})
    on_step = sac.RunCallback._on_step

    def killed_at_100(self):
        if self.num_timesteps == 100:
            raise KeyboardInterrupt  # the process dies after evaluating at 90, its last checkpoint at 60
        return on_step(self)

    monkeypatch.setattr(sac.RunCallback, "_on_step", killed_at_100)
    with pytest.raises(KeyboardInterrupt):
        main(cfg)
    assert [r["step"] for r in read_metrics(cfg.run_dir(), "eval/success")] == [30, 60, 90]
    monkeypatch.setattr(sac.RunCallback, "_on_step", on_step)
    run = main(cfg)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "eval/success" in r] == [30, 60, 90, 120]  # one row per evaluation
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    (events,) = (run / "tb").iterdir()
    tb = EventAccumulator(str(events)).Reload()
    assert [e.step for e in tb.Scalars("eval/success")] == [30, 60, 90, 120]
    assert [e.value for e in tb.Scalars("eval/success")] == pytest.approx([r["eval/success"] for r in rows
                                                                           if "eval/success" in r])


@pytest.mark.parametrize(("change", "match"), [
    ({"task": "window-shut"}, "unknown task 'window-shut'; valid tasks:"),
    ({"reward": RewardConfig(source="gpt")}, "unknown reward source 'gpt'; valid sources: sole, oracle-dense"),
    ({"reward": RewardConfig(model="nosuch")}, "unknown reasoner 'nosuch'"),
    ({"reward": RewardConfig(model="compact:fold-z")}, "unknown compact checkpoint 'fold-z'"),
])
def test_a_failed_command_writes_nothing(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        main(replace(SACConfig(task="reach", out=str(tmp_path / "rl"), **TINY), **change))
    assert not (tmp_path / "rl").exists()


@pytest.mark.slow  # imports JAX, whose threads make the forking tests that follow in one process risk a deadlock
@pytest.mark.parametrize("algo", ["sbx-sac", "sbx-tqc", "sbx-crossq"])
def test_a_jax_learner_trains_resumes_and_its_policy_loads(tmp_path, algo):
    pytest.importorskip("sbx")
    from sole.rl.algos import algo_class
    from sole.rl.runs import load_policy

    cfg = SACConfig(task="drawer-close", reward=ORACLE, algo=algo, out=str(tmp_path), **TINY | {"videos": 0})
    run = main(replace(cfg, steps=60))
    run = main(cfg)  # resumes the checkpoint at 60
    assert current_checkpoint(run)[1] == 120
    assert [r["step"] for r in read_metrics(run, "eval/success")] == [60, 120]
    saved, model = load_policy(run)
    assert saved["algo"] == algo and isinstance(model, algo_class(algo))


def test_an_unknown_learner_is_refused_naming_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="sb3-sac, sbx-sac"):
        main(SACConfig(task="reach", reward=ORACLE, algo="ppo", out=str(tmp_path), **TINY))
    assert not any(tmp_path.iterdir())
