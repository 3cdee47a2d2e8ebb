import numpy as np
import pytest

from sole.eval.metrics import auroc, confusion_margin, mae, pair_accuracy, voc


def test_voc_reads_order_and_stops_at_end():
    rising = np.linspace(0, 1, 20)
    assert voc(rising) == pytest.approx(1.0)
    assert voc(rising[::-1]) == pytest.approx(-1.0)
    assert voc(np.r_[rising, np.zeros(20)], end=20) == pytest.approx(1.0)
    assert voc(np.full(10, 0.5)) == 0.0


def test_auroc_matches_definition():
    assert auroc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0])) == 1.0
    assert auroc(np.array([0.1, 0.2, 0.9, 0.8]), np.array([1, 1, 0, 0])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([1, 0])) == 0.5
    assert np.isnan(auroc(np.array([0.5]), np.array([1])))


def test_pair_accuracy_and_margin():
    assert pair_accuracy(np.array([0.9, 0.5]), np.array([0.4, 0.6])) == pytest.approx(0.75)
    assert confusion_margin(0.9, [0.1, 0.3]) == pytest.approx(0.7)
    assert mae(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == 0.5
