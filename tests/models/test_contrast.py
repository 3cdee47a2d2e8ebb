import numpy as np
import pytest

from sole.models.base import Query, Step
from sole.models.contrast import BASELINE_GOALS, Contrast
from sole.models.registry import load_reasoner


class ByGoal:
    """Reads 0.9 under "press the button", 0.3 under "turn the dial" and 0.1 under any other goal."""

    views = ("external",)

    def __init__(self):
        self.asked = []

    def judge(self, queries, *, think=True):
        self.asked += [(q.goal, think) for q in queries]
        read = {"press the button": 0.9, "turn the dial": 0.3}
        return [Step(progress=read.get(q.goal, 0.1), text="why" if think else "") for q in queries]


def query(goal):
    frame = {"external": np.zeros((8, 8, 3), np.uint8)}
    return Query(goal=goal, first=frame, previous=frame, current=frame, prev_progress=0.0)


def test_answer_is_the_goal_reading_minus_the_mean_baseline_reading():
    inner = ByGoal()
    steps = Contrast(inner).judge([query("press the button"), query("turn the dial")])
    assert steps[0].progress == pytest.approx(0.9 - (0.1 + 0.1 + 0.1 + 0.3) / 4) and steps[0].text == "why"
    # a baseline equal to the goal is left out: the other three remain
    assert steps[1].progress == pytest.approx(0.3 - 0.1)
    assert [g for g, think in inner.asked if not think] == [*BASELINE_GOALS, *BASELINE_GOALS[:3]]


def test_a_goal_read_like_any_other_earns_nothing():
    assert Contrast(ByGoal()).judge([query("open the drawer")])[0].progress == pytest.approx(-0.05)


def test_spec_wraps_a_checkpoint(tiny_checkpoint):
    reasoner = load_reasoner(f"contrast:{tiny_checkpoint}")
    assert isinstance(reasoner, Contrast) and reasoner.views == ("external", "wrist")
    with pytest.raises(ValueError, match="needs the reasoner it wraps"):
        load_reasoner("contrast")
