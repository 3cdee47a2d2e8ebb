import numpy as np
import pytest

from sole.models.base import Query, Step
from sole.models.gated import CLOSED, HIGH, LOW, Gated, cap, scene_change
from sole.models.registry import load_reasoner, spec_for_task


class Sure:
    """Reads every query as 95% done, whatever it shows."""

    views = ("external", "wrist")

    def judge(self, queries, *, think=True):
        return [Step(progress=0.95, text="<answer>95%</answer>") for _ in queries]


def _query(first: np.ndarray, current: np.ndarray) -> Query:
    blank = np.zeros((64, 64, 3), np.uint8)
    views = {"external": blank, "wrist": blank}
    return Query(goal="push the puck", first={**views, "scene": first}, previous={**views, "scene": first},
                 current={**views, "scene": current}, prev_progress=0.5)


def test_the_cap_opens_with_the_share_of_changed_scene_pixels():
    assert cap(0.0) == cap(LOW) == pytest.approx(CLOSED) == pytest.approx(0.3)
    assert cap((LOW + HIGH) / 2) == pytest.approx(0.65)
    assert cap(HIGH) == cap(0.5) == 1.0
    first = np.zeros((64, 64, 3), np.uint8)
    moved = first.copy()
    moved[:4, :4, 1] = 200  # 16 of 4096 pixels: an object moved
    assert scene_change(first, moved) == pytest.approx(16 / 4096)
    moved[:4, :4, 1] = 10  # below the pixel step: rendering noise, not motion
    assert scene_change(first, moved) == 0.0


def test_an_untouched_scene_caps_the_answer_and_a_moved_one_does_not():
    gated = Gated(Sure())
    assert gated.views == ("external", "wrist", "scene")
    first = np.full((64, 64, 3), 90, np.uint8)
    moved = first.copy()
    moved[10:20, 10:20] = 255
    untouched, done = gated.judge([_query(first, first), _query(first, moved)])
    assert untouched.progress == pytest.approx(0.3) and done.progress == pytest.approx(0.95)
    assert untouched.text == done.text == "<answer>95%</answer>"


def test_gated_spec_names_the_held_out_model_and_needs_a_reasoner(tiny_checkpoint):
    assert spec_for_task("gated:held-out", "push") == "gated:compact:held-out-b"
    assert load_reasoner(f"gated:{tiny_checkpoint}").views == ("external", "wrist", "scene")
    with pytest.raises(ValueError, match="needs the reasoner it wraps"):
        load_reasoner("gated")
