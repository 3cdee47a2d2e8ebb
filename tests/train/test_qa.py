import json
from dataclasses import replace

import numpy as np
import pytest

from sole.train.qa import QASampler, qa_accuracy, slots, written_answer
from sole.train.samples import split_episodes, to_inputs
from sole.train.sft import SFTConfig, train


def test_slots_show_the_frames_in_order():
    assert slots((7,)) == (0, 7, 7)  # one frame beside the episode's first
    assert slots((9, 3)) == (9, 9, 3)
    assert slots((1, 4, 6, 8)) == (1, 6, 8)


def test_questions_are_answered_from_the_shown_frames(episodes):
    """The conftest episodes' hand moves along x with progress (0 -> 1 m on experts), so every temporal answer
    can be checked against the slots it shows."""
    experts = [e for e in episodes if e.kind == "expert"]
    kinds = set()
    for q in QASampler(experts, seed=0).batch(300):
        ep, (first, prev, cur) = experts[q.episode], q.slots
        assert 0 <= min(q.slots) and max(q.slots) < len(ep) and q.completion == f"<answer>{q.answer}</answer>"
        kinds.add(q.qa)
        if q.qa == "order":
            assert q.answer == ("left" if prev < cur else "right")
        elif q.qa == "backwards":
            assert q.answer == ("forwards" if first < cur else "backwards")
        elif q.qa == "open":
            assert q.answer == "open"  # the stand-in facts hold the gripper open
    assert {"order", "backwards", "open"} <= kinds
    inputs = to_inputs(experts, QASampler(experts, seed=1).batch(5), ("external", "wrist"))
    assert inputs.frames["external"].shape == (5, 64, 64, 9) and float(inputs.prev_progress.abs().sum()) == 0.0


def test_no_clear_cut_question_is_a_clear_error(episode_maker):
    ep = episode_maker("reach", "frozen", 0)  # reach's object is the goal: no distance or held question
    still = replace(ep, facts=[{**f, "gripper_open": 0.45} for f in ep.facts])  # neither open nor closed
    with pytest.raises(ValueError, match="no clear-cut question"):
        QASampler([still]).example()


def test_written_answer():
    assert written_answer("<answer> yes, 3 cm closer</answer>") == "yes, 3 cm closer"
    assert written_answer("left") is None


def test_sft_with_foundation_qa_learns_to_answer(task_set, episodes, validate, tmp_path):
    cfg = replace(SFTConfig.tiny(out=str(tmp_path / "run")), steps=150, eval_every=150, batch_size=16, lr=3e-3,
                  qa_batch=8, qa_episodes=60)
    train_eps, val_eps = split_episodes(episodes, 3)
    final = train(cfg, task_set, train_eps, val_eps, validate=validate)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert np.mean([r["train/qa_ce"] for r in rows[-10:]]) < 0.5 * np.mean([r["train/qa_ce"] for r in rows[:10]])
    val = json.loads((final / "val.json").read_text())
    assert {"val/qa_acc", "val/qa/order", "val/qa/open"} <= set(val)
    from sole.models.compact import CompactModel

    model = CompactModel.from_pretrained(final)
    assert qa_accuracy(model, val_eps, 60)["qa/open"] == 1.0  # always "open" in these episodes: learned
