"""A tiny deterministic reasoner for RL tests."""

import numpy as np
import pytest

from sole.models.base import Query, Step


class ThinkingReasoner:
    """Progress = share of the wrist frame that is bright; it thinks aloud when asked."""

    views = ("external", "wrist")

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        out = []
        for q in queries:
            p = float(np.mean(q.current["wrist"] > 128))
            out.append(Step(progress=p, text=f"<think>wrist {p:.2f}</think><answer>{round(100 * p)}%</answer>"
                            if think else ""))
        return out


@pytest.fixture
def thinking_reasoner() -> ThinkingReasoner:
    return ThinkingReasoner()
