import json
import multiprocessing as mp
import os
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from sole.reward.rewarder import RewardConfig
from sole.rl import runs


@dataclass(frozen=True)
class Cfg:
    task: str = "reach"
    reward: RewardConfig = field(default_factory=RewardConfig)
    lr: float = 3e-4
    steps: int = 100
    UNHASHED: ClassVar[tuple[str, ...]] = ("steps",)


def write_files(step: int):
    def write(folder: Path) -> None:
        (folder / "model.zip").write_bytes(b"m" * 1000 + str(step).encode())
        (folder / "replay.pkl").write_bytes(b"r" * 1000 + str(step).encode())
    return write


def assert_complete(run: Path, step: int) -> None:
    assert runs.current_checkpoint(run)[1] == step
    folder, saved = runs.resume_checkpoint(run)
    assert saved == step
    assert (folder / "model.zip").read_bytes().endswith(str(step).encode())
    assert (folder / "replay.pkl").read_bytes().endswith(str(step).encode())
    assert list((run / "checkpoints").iterdir()) == [folder]  # leftovers of the interrupted write are removed


def die_while_writing(run: Path) -> None:
    def write(folder: Path) -> None:
        (folder / "model.zip").write_bytes(b"half")
        os.kill(os.getpid(), signal.SIGKILL)
    runs.save_checkpoint(run, 2, write)


def die_at_the_swap(run: Path) -> None:
    def killed(*_args) -> None:
        os.kill(os.getpid(), signal.SIGKILL)
    runs.os.replace = killed  # the new checkpoint is durable, the pointer not yet swapped
    runs.save_checkpoint(run, 2, write_files(2))


@pytest.mark.parametrize("die", [die_while_writing, die_at_the_swap])
def test_a_checkpoint_write_killed_by_sigkill_leaves_the_previous_one_whole(tmp_path, die):
    runs.save_checkpoint(tmp_path, 1, write_files(1))
    proc = mp.get_context("fork").Process(target=die, args=(tmp_path,))
    proc.start()
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    assert len(list((tmp_path / "checkpoints").iterdir())) == 2  # the killed write left its directory behind
    assert_complete(tmp_path, 1)
    runs.save_checkpoint(tmp_path, 3, write_files(3))
    assert_complete(tmp_path, 3)


def test_every_in_between_file_state_reads_one_complete_checkpoint(tmp_path):
    old = runs.save_checkpoint(tmp_path, 1, write_files(1))
    runs.save_checkpoint(tmp_path, 2, write_files(2))
    old.mkdir()  # the pointer names the new checkpoint, the old one is half removed
    (old / "replay.pkl").write_bytes(b"r")
    assert_complete(tmp_path, 2)
    leftover = tmp_path / "checkpoints" / "step-3-unfinished"
    leftover.mkdir()
    (leftover / "model.zip").write_bytes(b"m")  # a new one half written, the pointer not yet swapped
    assert_complete(tmp_path, 2)
    (tmp_path / runs.POINTER).unlink()  # never published: no checkpoint, and nothing left over
    assert runs.resume_checkpoint(tmp_path) is None and not any((tmp_path / "checkpoints").iterdir())


def test_reading_the_checkpoint_of_a_run_in_training_leaves_its_writes_alone(tmp_path):
    runs.save_checkpoint(tmp_path, 1, write_files(1))
    writing = tmp_path / "checkpoints" / "step-2-inprogress"
    writing.mkdir()
    assert runs.current_checkpoint(tmp_path)[1] == 1 and writing.exists()


def test_config_hash_leaves_out_only_the_unhashed_fields():
    base = Cfg()
    assert runs.config_hash(base) == runs.config_hash(Cfg(steps=500))
    assert runs.config_hash(base) != runs.config_hash(Cfg(lr=1e-3))
    assert runs.config_hash(base) != runs.config_hash(Cfg(reward=RewardConfig(every=2)))
    saved = runs.config_dict(base) | {"config_hash": runs.config_hash(base)}
    assert runs.config_changes(saved, Cfg(lr=1e-3, steps=9, reward=RewardConfig(model="compact"))) == [
        "reward.model: '' -> 'compact'", "lr: 0.0003 -> 0.001"]


def test_a_folder_of_other_files_is_not_resumed(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds files but no config.json.*--no-resume"):
        runs.prepare_run(tmp_path, Cfg(), resume=True)
    runs.prepare_run(tmp_path, Cfg(), resume=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_finished_needs_the_same_config_hash_and_enough_steps(tmp_path):
    cfg = Cfg()
    assert not runs.finished(tmp_path, cfg, 100)
    (tmp_path / "result.json").write_text(json.dumps({"steps": 100, "config_hash": runs.config_hash(cfg)}))
    assert runs.finished(tmp_path, cfg, 100) and not runs.finished(tmp_path, cfg, 200)
    assert not runs.finished(tmp_path, Cfg(lr=1e-3), 100)
    (tmp_path / "result.json").write_text(json.dumps({"steps": 100}))  # a result without a hash
    assert not runs.finished(tmp_path, cfg, 100)


def test_truncating_metrics_keeps_the_rows_up_to_the_checkpoint(tmp_path):
    rows = [{"step": s, "eval/success": v} for s, v in ((10, 0.0), (20, 0.1), (30, 0.2))]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 40, "ev')
    assert runs.truncate_metrics(tmp_path, 20) == rows[:2]  # the killed writer's cut-off line goes too
    assert [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == rows[:2]


def test_read_metrics_drops_rows_of_an_interrupted_timeline(tmp_path):
    rows = [{"step": s, "eval/success": v} for s, v in ((10, 0.0), (20, 0.1), (30, 0.2), (20, 0.5), (30, 0.6))]
    rows.insert(2, {"step": 25, "train/loss": 1.0})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = runs.read_metrics(tmp_path, "eval/success")  # crashed after 30, resumed from a checkpoint at 10
    assert [(r["step"], r["eval/success"]) for r in got] == [(10, 0.0), (20, 0.5), (30, 0.6)]
