import re

import numpy as np
import pytest

from sole.data.cot import cot_fact_accuracy, cot_words, make_cot, relation, verify_cot
from sole.envs.sim import make_env
from sole.synth.rollouts import rollout


def _facts(t, hand_to_obj, obj_to_goal, gripper_open, phase, grasped=False, success=False, task="pick-place"):
    return {"t": t, "task": task, "hand": [0.0, 0.6, 0.2], "gripper_open": gripper_open, "obj": [0.0, 0.7, 0.02],
            "goal": [0.1, 0.8, 0.2], "hand_to_obj": hand_to_obj, "obj_to_goal": obj_to_goal, "grasped": grasped,
            "phase": phase, "progress": 0.0, "success": success}


PREV = _facts(4, 0.10, 0.20, 1.0, "reach")
CUR = _facts(5, 0.07, 0.20, 0.5, "grasp")


def _cots(goal="pick-place", progress=0.18, n=40):
    return [make_cot(goal, "pick up the puck", PREV, CUR, 0.1, progress, np.random.default_rng(s)) for s in range(n)]


def test_cot_states_what_changed_and_what_remains():
    text = make_cot("pick-place", "pick up the puck", PREV, CUR, 0.1, 0.18, np.random.default_rng(0))
    assert text.startswith("<think>") and text.endswith("<answer>18%</answer>")
    assert re.search(r"3 cm (closer|nearer)", text) and re.search(r"fingers closed|gripper closed", text)
    assert "7 cm" in text and "20 cm" in text  # what remains: grasp (7 cm away), carry 20 cm
    assert 15 <= cot_words(text) <= 50
    assert len(set(_cots())) > 5  # several paraphrases


@pytest.mark.parametrize("bad, good", [
    (r"(\d+)%</answer>", "55%</answer>"),  # wrong answer
    (r"3 cm", "4 cm"),  # wrong distance moved
    (r"moved 3 cm closer to", "moved 3 cm away from"),  # wrong direction
    (r"got 3 cm nearer", "drew 3 cm back from"),
    (r"(gripper|fingers) closed", r"\1 opened"),  # wrong gripper change
    (r"7 cm", "9 cm"),  # wrong remaining distance
    (r"puck", "window"),  # wrong object
    (r"^<think>(t=\d+:|step \d+:|at t=\d+,)", "<think>t=9:"),  # wrong time anchor
    (r"</think>", " The task is done.</think>"),  # a false state claim
    (r"</think>", " The moon is full.</think>"),  # a claim nothing can verify
])
def test_corrupted_cot_fails(bad, good):
    changed = 0
    for text in _cots():
        assert verify_cot(text, PREV, CUR, 0.18) == []
        corrupt = re.sub(bad, good, text)
        if corrupt != text:
            changed += 1
            assert verify_cot(corrupt, PREV, CUR, 0.18), corrupt
    assert changed > 0


def test_wrong_progress_and_format_fail():
    text = _cots(n=1)[0]
    assert verify_cot(text, PREV, CUR, 0.5)
    assert verify_cot("progress is 18%", PREV, CUR, 0.18)


def test_relations_and_mismatched_goal_text():
    assert relation("window-close", "window-open") == "opposite"
    assert relation("window-close", "button-press") == "mismatch"
    text = make_cot("button-press", "press the button", PREV, CUR, 0.0, 0.0, np.random.default_rng(1))
    assert "button" in text and "<answer>0%</answer>" in text
    assert verify_cot(text, PREV, CUR, 0.0, goal_task="button-press") == []
    assert verify_cot(text, PREV, CUR, 0.0)  # the same text is false for the shown task's own goal


@pytest.fixture(scope="module")
def episodes():
    out = []
    for task, kinds in (("window-close", ("expert",)), ("pick-place", ("expert", "undo"))):
        env = make_env(task)
        out += [rollout(env, kind, seed=7, steps=100) for kind in kinds]
        env.close()
    return out


def test_every_synthesized_cot_verifies_for_own_opposite_and_mismatched_goals(episodes):
    rng = np.random.default_rng(0)
    n, words = 0, []
    for ep in episodes:
        for goal in [*ep.labels, "door-lock"]:
            lab = ep.label(goal)
            for t in range(1, len(ep)):
                text = make_cot(goal, "goal text", ep.facts[t - 1], ep.facts[t], lab[t - 1], lab[t], rng)
                assert verify_cot(text, ep.facts[t - 1], ep.facts[t], lab[t], goal_task=goal) == [], text
                words.append(cot_words(text))
                n += 1
    assert n > 300 and 20 <= np.median(words) <= 45


def test_fact_accuracy_counts_verified_clauses_and_ignores_the_progress_number():
    text = _cots(n=1)[0]
    assert cot_fact_accuracy(text, PREV, CUR, 0.18) == 1.0
    wrong_answer = re.sub(r"\d+%", "90%", text)
    assert cot_fact_accuracy(wrong_answer, PREV, CUR, 0.18) == 1.0  # the number is judged elsewhere
    n_clauses = text.count(";") + 2  # anchor + clauses before the progress sentence
    one_wrong = text.replace("3 cm", "5 cm")
    assert cot_fact_accuracy(one_wrong, PREV, CUR, 0.18) == pytest.approx(1 - 1 / n_clauses)
    assert cot_fact_accuracy("no idea", PREV, CUR, 0.18) == 0.0
