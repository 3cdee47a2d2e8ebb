import numpy as np
import pytest

from sole.eval.metrics import auroc, confusion_margin, first_solved, hack_pair_accuracy, mae, pair_accuracy, voc


def test_voc_reads_order():
    rising = np.linspace(0, 1, 20)
    assert voc(rising) == pytest.approx(1.0)
    assert voc(rising[::-1]) == pytest.approx(-1.0)
    assert voc(np.full(10, 0.5)) == 0.0


@pytest.mark.parametrize("stride", [1, 10])
def test_voc_reads_the_answers_so_a_constant_reader_scores_zero(stride):
    """The per-frame curve starts at a fixed 0 and is interpolated between queries: read over it, a reader that
    answers 0.5 everywhere would score VOC 0.29 (every frame queried) to 0.78 (every tenth); over its answers, 0."""
    from sole.models.base import Clip, Step, reason

    class Constant:
        views = ("external",)

        def judge(self, queries, think=True):
            return [Step(0.5) for _ in queries]

    judged = reason(Constant(), [Clip({"external": np.zeros((101, 8, 8, 3), np.uint8)})], ["press the button"],
                    stride=stride)[0]
    end = 41  # as if solved at frame 40
    assert voc(judged.per_frame[:end]) > 0.25  # what the curve would say
    assert voc(judged.answers(end)) == 0.0
    assert len(judged.answers(end)) == len([t for t, _ in judged.steps if t < end])


def test_auroc_matches_definition():
    assert auroc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([1, 1, 0, 0])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5
    assert np.isnan(auroc(np.array([0.5]), np.array([1])))


def test_pair_accuracy_and_margin():
    assert pair_accuracy(np.array([0.9, 0.5]), np.array([0.4, 0.6])) == pytest.approx(0.75)
    assert confusion_margin(0.9, [0.1, 0.3]) == pytest.approx(0.7)
    assert mae(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == 0.5


def test_first_solved():
    assert first_solved(np.array([0.1, 0.5, 0.96, 0.97])) == 3
    assert first_solved(np.array([0.1, 0.5])) is None


def test_hack_pairs_use_solved_experts_and_unsolved_look_alikes():
    kinds = ["expert", "expert", "hover", "hover", "near-miss"]
    labels = np.array([1.0, 0.4, 0.3, 1.0, 0.2])  # the second expert failed; the second hover pressed the button
    final = np.array([0.9, 0.1, 0.5, 0.95, 0.95])
    assert hack_pair_accuracy(kinds, labels, final, "hover") == 1.0  # only (0.9 vs 0.5) is a pair
    assert hack_pair_accuracy(kinds, labels, final, "near-miss") == 0.0
    assert np.isnan(hack_pair_accuracy(kinds, labels, final, "frozen"))
