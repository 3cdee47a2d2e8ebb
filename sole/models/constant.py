"""``const:P``: a reader that answers P everywhere and sees nothing; the floor a reward metric gives for free.

`sole eval reward --model const:0.5` reads VOC 0, hacking-pair 0.5 (ties count half), AUROC 0.5 and confusion 0
by construction; a metric that scores it higher rewards something other than reading the video.
"""

from __future__ import annotations

from sole.models.base import Query, Step


class Constant:
    views = ("external",)

    def __init__(self, progress: float):
        if not -1.0 <= progress <= 1.0:
            raise ValueError(f"const: progress must be in [-1, 1], got {progress}")
        self.value = progress

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        text = f"<think>I do not look.</think><answer>{round(100 * self.value)}%</answer>" if think else ""
        return [Step(self.value, text) for _ in queries]


def from_spec(value: str) -> Constant:
    try:
        progress = float(value)
    except ValueError:
        raise ValueError(f"const: needs a progress value in [-1, 1], e.g. const:0.5, got {value!r}") from None
    return Constant(progress)
