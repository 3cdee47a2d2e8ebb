"""A tiny deterministic reasoner for reward and RL tests: progress from the current frame's pixels."""

import numpy as np
import pytest

from sole.models.base import Query, Step


class PixelReasoner:
    """Progress = mean of the current frame of its first view / 255; records every batch it was asked."""

    views = ("external", "wrist")

    def __init__(self):
        self.batches: list[list[Query]] = []

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        self.batches.append(queries)
        out = []
        for q in queries:
            p = round(float(np.mean(next(iter(q.current.values())))) / 255.0, 4)
            out.append(Step(progress=p, text=f"<think>looked</think><answer>{round(100 * p)}%</answer>" if think
                            else ""))
        return out


@pytest.fixture
def pixel_reasoner() -> PixelReasoner:
    return PixelReasoner()
