import numpy as np
import pytest

from sole.models.base import Query, Step
from sole.models.ensemble import Ensemble
from sole.models.registry import load_reasoner


class Constant:
    def __init__(self, progress: float, views=("external", "wrist")):
        self.progress, self.views = progress, views

    def judge(self, queries, *, think=True):
        text = f"member {self.progress}" if think else ""
        return [Step(self.progress + i / 100, text) for i, _ in enumerate(queries)]


def _queries(n: int) -> list[Query]:
    frame = {"external": np.zeros((8, 8, 3), np.uint8), "wrist": np.zeros((8, 8, 3), np.uint8)}
    return [Query("close the drawer", frame, frame, frame, 0.0) for _ in range(n)]


def test_min_answers_the_lowest_progress_with_its_members_reasoning():
    steps = Ensemble([Constant(0.7), Constant(0.2), Constant(0.5)]).judge(_queries(3))
    assert [s.progress for s in steps] == pytest.approx([0.2, 0.21, 0.22])
    assert {s.text for s in steps} == {"member 0.2"}


@pytest.mark.parametrize(("values", "median"), [([0.7, 0.2, 0.5], 0.5), ([0.9, 0.1, 0.4, 0.6], 0.4)])
def test_median_answers_one_members_median_with_its_reasoning(values, median):
    steps = Ensemble([Constant(v) for v in values], "median").judge(_queries(2))
    assert [s.progress for s in steps] == pytest.approx([median, median + 0.01])
    assert {s.text for s in steps} == {f"member {median}"}


def test_mean_answers_the_weighted_mean_with_the_heaviest_members_reasoning():
    steps = Ensemble([Constant(0.8), Constant(0.2)], "mean", [1, 3]).judge(_queries(2))
    assert [s.progress for s in steps] == pytest.approx([0.35, 0.36])
    assert {s.text for s in steps} == {"member 0.2"}
    assert Ensemble([Constant(0.8), Constant(0.2)], "mean").judge(_queries(1))[0].progress == pytest.approx(0.5)


def test_members_reading_different_views_give_the_union():
    ens = Ensemble([Constant(0.1, views=("scene",)), Constant(0.2), Constant(0.3, views=("wrist",))])
    assert ens.views == ("scene", "external", "wrist")


def test_rejects_one_member_bad_weights_and_unknown_combine():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble([Constant(0.1)])
    with pytest.raises(ValueError, match="unknown ensemble 'mode'"):
        Ensemble([Constant(0.1), Constant(0.2)], "mode")
    with pytest.raises(ValueError, match="min takes none"):
        Ensemble([Constant(0.1), Constant(0.2)], "min", [1, 2])
    for bad in ([1.0], [0, 0], [-1, 2]):
        with pytest.raises(ValueError, match="one non-negative number per member"):
            Ensemble([Constant(0.1), Constant(0.2)], "mean", bad)


@pytest.mark.parametrize("combine", ["min", "median", "mean"])
def test_registry_spec(tiny_checkpoint, combine):
    ens = load_reasoner(f"{combine}:{tiny_checkpoint}+{tiny_checkpoint}")
    assert isinstance(ens, Ensemble) and ens.combine == combine and ens.views == ("external", "wrist")
    with pytest.raises(ValueError, match="join two or more"):
        load_reasoner(f"{combine}:{tiny_checkpoint}")


def test_registry_reads_mean_weights(tiny_checkpoint):
    ens = load_reasoner(f"mean:0.25*{tiny_checkpoint}+{tiny_checkpoint}")
    assert ens.weights == pytest.approx([0.2, 0.8])
    with pytest.raises(ValueError, match="min takes none"):
        load_reasoner(f"min:2*{tiny_checkpoint}+{tiny_checkpoint}")
