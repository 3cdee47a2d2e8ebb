"""Reward-model metrics as small pure functions over predicted and true progress.

- VOC: Spearman correlation of predicted progress with time on an expert video, up to its first success (the part
  of the video whose order the model must read; the plateau after success carries no order). 1 is perfect. It is
  read over the model's answers (`sole.models.base.Judgement.answers`), not over the per-frame curve: that curve
  starts at a fixed 0 and is interpolated between queried frames, which alone would give a constant reader a
  positive VOC.
- VROC: the same on the video played backwards; a model that reads the scene, not the clock, scores near -1.
- MAE: mean absolute error of predicted vs true progress, per frame.
- Success AUROC: how well the final predicted progress separates episodes that ended solved from those that did not.
- Hacking-pair accuracy: the share of (solved expert, look-alike hack) pairs where the expert ends higher; a
  look-alike counts only where its own label ends unsolved (a hover can press a button).
- Confusion margin: final progress under the correct goal minus the mean under other tasks' goals, same video.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata, spearmanr

from sole.envs.progress import SOLVED_FLOOR


def first_solved(label: np.ndarray) -> int | None:
    """One past the first frame whose label is solved (the end of the part VOC reads); None if never solved."""
    hits = np.flatnonzero(np.asarray(label) >= SOLVED_FLOOR)
    return int(hits[0]) + 1 if hits.size else None


def voc(pred: np.ndarray) -> float:
    """Spearman(pred, time) of answers in time order (times need not be even: only their order counts); NaN-safe
    (a constant prediction, or fewer than 3 answers, scores 0)."""
    x = np.asarray(pred, dtype=np.float64)
    if len(x) < 3 or np.ptp(x) == 0:
        return 0.0
    return float(spearmanr(x, np.arange(len(x))).statistic)


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred, np.float64) - np.asarray(true, np.float64))))


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with tie correction); NaN when one class is absent."""
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pair_accuracy(good: np.ndarray, bad: np.ndarray) -> float:
    """Share of all (good, bad) pairs with good > bad; ties count half. NaN when either side is empty."""
    good, bad = np.asarray(good, np.float64), np.asarray(bad, np.float64)
    if good.size == 0 or bad.size == 0:
        return float("nan")
    diff = good[:, None] - bad[None, :]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def hack_pair_accuracy(kinds: Sequence[str], final_labels: np.ndarray, final: np.ndarray, family: str) -> float:
    """Pair accuracy of one task's solved experts against its ``family`` episodes whose label ends unsolved.

    ``kinds``, ``final_labels`` (true progress at the last frame) and ``final`` (predicted) are per episode.
    """
    kinds, solved = np.asarray(kinds), np.asarray(final_labels) >= SOLVED_FLOOR
    final = np.asarray(final, np.float64)
    return pair_accuracy(final[(kinds == "expert") & solved], final[(kinds == family) & ~solved])


def confusion_margin(correct: float, others: list[float]) -> float:
    """Correct-goal progress minus the mean over other goals (> 0: the text is read)."""
    return float(correct - np.mean(others)) if others else float("nan")
