"""Foundation QA mixed into SFT: questions about the training episodes' frames, answered by the decoder.

The questions are those of `sole.synth.foundation` (the same ones exported as HF records): temporal ones (which
of two frames came first, did the object get closer to the goal, is a clip playing forwards or backwards) and
the spatial ones answerable from the stored facts (is the gripper above or below the object, open or closed, is
the object held, how far is the gripper from it). The compact reasoner reads a question where it reads a goal
and the question's frames in its three slots, in shown order: a pair as (first, first, second), a clip as (its
first, its last but one, its last), one frame as (the episode's first frame, it, it). It answers
``<answer>...</answer>`` through the decoder; the progress head does not train on these queries. The prior is 0.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from sole.models.compact import CompactModel
from sole.synth.episode import Episode
from sole.synth.foundation import fact_questions, temporal_questions
from sole.train.samples import to_inputs

ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.S)
MAX_TRIES = 100
"""Episodes tried for a question before giving up (a frozen video with nothing clear-cut has none)."""


@dataclass(frozen=True)
class QAExample:
    """One foundation question as a training query (the shape of `sole.train.samples.Example` that
    `sole.train.samples.to_inputs` reads)."""

    episode: int
    slots: tuple[int, int, int]
    """Stored frame indices shown as the first, previous and current frame."""
    goal: str
    """The question."""
    answer: str
    qa: str
    prev_progress: float = 0.0

    def source(self, n: int) -> list[int]:
        return list(self.slots)

    @property
    def completion(self) -> str:
        return f"<answer>{self.answer}</answer>"


def slots(frames: tuple[int, ...]) -> tuple[int, int, int]:
    """A question's frames (shown order) -> the first, previous and current slots."""
    return (0, frames[0], frames[0]) if len(frames) == 1 else (frames[0], frames[-2], frames[-1])


class QASampler:
    """Draws `QAExample`s: an episode, then a temporal or a fact question about it (even odds)."""

    def __init__(self, episodes: list[Episode], seed: int = 0, gap: int = 10):
        if not episodes:
            raise ValueError("no episodes to ask questions about")
        self.episodes, self.gap = episodes, gap
        self.rng = np.random.default_rng(seed)

    def example(self) -> QAExample:
        for _ in range(MAX_TRIES):
            i = int(self.rng.integers(len(self.episodes)))
            ep = self.episodes[i]
            if self.rng.random() < 0.5:
                asked = temporal_questions(ep, self.rng, n=1, gap=self.gap)
            else:
                asked = fact_questions(ep, int(self.rng.integers(len(ep))))
            if asked:
                q = asked[int(self.rng.integers(len(asked)))]
                return QAExample(i, slots(q.frames), q.question, q.answer, q.qa)
        raise ValueError(f"no clear-cut question about {MAX_TRIES} drawn episodes (frozen or motionless videos?)")

    def batch(self, n: int) -> list[QAExample]:
        return [self.example() for _ in range(n)]


def written_answer(text: str) -> str | None:
    """The answer inside ``<answer>...</answer>``, stripped; None if there is none."""
    m = ANSWER_RE.search(text)
    return m.group(1).strip() if m else None


@torch.no_grad()
def qa_accuracy(model: CompactModel, episodes: list[Episode], n: int, seed: int = 0) -> dict[str, float]:
    """Exact-match accuracy of greedy answers to ``n`` drawn questions about ``episodes``: overall (``qa_acc``) and
    per question kind (``qa/<kind>``)."""
    examples = QASampler(episodes, seed).batch(n)
    h = model.encode(to_inputs(episodes, examples, model.cfg.views))
    texts = model.decode(model.generate(h, max_new_tokens=24))
    right: dict[str, list[bool]] = defaultdict(list)
    for e, text in zip(examples, texts, strict=True):
        right[e.qa].append(written_answer(text) == e.answer)
    out = {"qa_acc": float(np.mean([r for rs in right.values() for r in rs]))}
    return out | {f"qa/{kind}": float(np.mean(rs)) for kind, rs in sorted(right.items())}
