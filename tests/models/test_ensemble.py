import numpy as np
import pytest

from sole.models.base import Query, Step
from sole.models.ensemble import MinEnsemble
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


def test_answers_the_lowest_progress_with_its_members_reasoning():
    steps = MinEnsemble([Constant(0.7), Constant(0.2), Constant(0.5)]).judge(_queries(3))
    assert [s.progress for s in steps] == pytest.approx([0.2, 0.21, 0.22])
    assert {s.text for s in steps} == {"member 0.2"}


def test_rejects_one_member_and_mismatched_views():
    with pytest.raises(ValueError, match="at least 2"):
        MinEnsemble([Constant(0.1)])
    with pytest.raises(ValueError, match="different views"):
        MinEnsemble([Constant(0.1), Constant(0.2, views=("external",))])


def test_registry_spec(tiny_checkpoint):
    ens = load_reasoner(f"min:{tiny_checkpoint}+{tiny_checkpoint}")
    assert isinstance(ens, MinEnsemble) and ens.views == ("external", "wrist")
    with pytest.raises(ValueError, match="join two or more"):
        load_reasoner(f"min:{tiny_checkpoint}")
