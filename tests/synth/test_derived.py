import numpy as np
import pytest

from sole.synth.derived import SPAN, derived_cot, derived_goal, derived_goals, is_derived


def _facts(obj_x: list[float], hand_z: list[float]) -> list[dict]:
    return [{"obj": (x, 0.6, 0.0), "hand": (0.0, 0.5, z)} for x, z in zip(obj_x, hand_z, strict=True)]


def test_label_follows_the_part_along_its_direction_as_played():
    facts = _facts([0.0, 0.02, 0.05, 0.12], [0.2, 0.2, 0.2, 0.2])
    right = derived_goal("drawer-close", "move:obj:right")
    forward = np.arange(4)
    assert right.label(facts, forward) == pytest.approx([0.0, 0.2, 0.5, 1.0])
    assert derived_goal("drawer-close", "move:obj:left").label(facts, forward) == pytest.approx([0, 0, 0, 0])
    # played backwards, the object travels left from where the clip starts
    assert derived_goal("drawer-close", "move:obj:left").label(facts, forward[::-1]) == pytest.approx(
        [0.0, 0.7, 1.0, 1.0])
    assert right.goals[0] == "move the drawer to the right" and is_derived(right.name)


def test_object_goals_only_on_axes_the_object_moves():
    still = _facts([0.0] * 4, [0.2, 0.25, 0.3, 0.35])
    assert {g.part for g in derived_goals("drawer-close", still)} == {"hand"}
    moving = _facts([0.0, 0.01, 0.03, 0.03], [0.2] * 4)
    obj = {g.direction for g in derived_goals("drawer-close", moving) if g.part == "obj"}
    assert obj == {"right", "left"}  # x moves 3 cm; y and z not at all
    assert {g.part for g in derived_goals("reach", moving)} == {"hand"}  # a reach task's object is the hand


def test_cot_states_the_labelled_displacement():
    facts = _facts([0.0, 0.03, 0.2], [0.2] * 3)
    goal = derived_goal("drawer-close", "move:obj:right")
    assert derived_cot(goal, facts, np.arange(3), 1) == (
        "<think>t=1: the drawer moved 3 cm to the right; remaining: move it 7 cm to the right. "
        "Progress: 30%.</think><answer>30%</answer>")
    assert "nothing remains" in derived_cot(goal, facts, np.arange(3), 2)
    assert "has not moved" in derived_cot(goal, facts, np.arange(3)[::-1], 1)
    assert round(100 * SPAN) == 10
    with pytest.raises(KeyError, match="no derived goal"):
        derived_goal("drawer-close", "move:lid:up")
