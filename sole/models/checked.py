"""Checked answers: a reasoner's progress capped at what its own stated facts add up to over the episode.

An experimental reader (``checked:SPEC``): the answer is one token, while the facts the reasoning states before it
are many, each trained against a verifier, so the stated facts bound the answer. `Checked` keeps, per episode, a
*ledger* of what the wrapped reasoner said, query by query:

- at the first query, the object's stated remaining distance (``remaining: reach the puck, 19 cm away, then move
  it 27 cm``) and the task's phase template (reach / push / pick) that the "remaining" clause implies;
- after every query, the object's stated change since the previous query (``the puck moved 2 cm toward the goal``
  +2, ``... away from the goal`` -2, ``has not advanced`` 0; for reach tasks the hand's change, since reaching the
  target is the task), summed.

The answer is capped at what the ledger supports: the approach and grasp share of progress
(`sole.envs.progress.PHASE_WEIGHTS`) is taken on trust, the move share only as far as the stated changes have
moved the object through its stated starting distance. A pose that only looks done (nothing moved, by the
model's own account) earns at most the approach share; moving the object earns the rest.

Streaming without new state in the query contract: an episode's ledger is stored under a hash of its goal and its
last queried frames, and the next query finds it under its ``previous`` frames. A query whose previous frames are
its first frames (with prior progress 0) starts a new ledger. Two episodes can share a key only while their frames
are identical, and then their ledgers are identical too. The wrapped reasoner always thinks, since the check reads
its reasoning; a ``think=False`` call still pays for it. The cap is only as right as the stated motion: where the
reasoning misreads the object, a solved episode is capped too.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from sole.data.cot import stated_claims
from sole.envs.progress import PHASE_WEIGHTS
from sole.models.base import Query, Reasoner, Step

MOVES: dict[str, float] = {"obj-closer": 1.0, "obj-away": -1.0}
"""Claims of the object's change toward the goal, with the sign of their distance slot."""
REACH_MOVES: dict[str, float] = {"hand-closer": 1.0, "hand-away": -1.0}
"""For reach tasks the hand is what moves toward the goal."""
TEMPLATES: dict[str, str] = {"rem-push": "push", "rem-pick": "pick", "rem-target": "reach"}
"""A "remaining" claim that names the task's phase template (a reach task's target is "the goal", so its clause
also reads as a push task's ``rem-move``; the object claims tell them apart)."""
OBJECT_CLAIMS = {"obj-closer", "obj-away", "obj-still"}
"""Claims about the object, which every completion of a push or pick task makes and a reach task's never does."""
REMAINING = ("rem-push", "rem-pick", "rem-target", "rem-move")
"""Claims that state the object's remaining distance as slot ``n``."""
KEEP = 4096
"""Open ledgers kept (least recently used dropped): far more than the envs or clips of one batch."""


@dataclass(frozen=True)
class Ledger:
    """What one episode's reasoning has said so far."""

    phases: str = "push"
    """Phase template the first "remaining" clause implied (push until one says otherwise)."""
    start: float | None = None
    """Stated remaining distance of the object at the first query that stated one."""
    moved: float = 0.0
    """Stated change toward the goal, summed over the episode's queries."""

    def read(self, text: str) -> Ledger:
        """This ledger after one more completion."""
        claims = stated_claims(text)
        names = [name for clause in claims for name in clause]
        phases = next((TEMPLATES[n] for n in names if n in TEMPLATES), self.phases)
        if phases == "reach" and OBJECT_CLAIMS & set(names):  # "remaining: 8 cm to the goal" of a push task
            phases = self.phases
        start = self.start
        if start is None:
            start = next((float(clause[n]["n"]) for clause in claims for n in REMAINING if n in clause), None)
        moves = REACH_MOVES if phases == "reach" else MOVES
        change = sum(sign * clause[n]["d"] for clause in claims for n, sign in moves.items() if n in clause)
        return Ledger(phases, start, self.moved + change)

    def bound(self) -> float:
        """The most progress the stated facts support."""
        w = PHASE_WEIGHTS[self.phases]["move"]
        moved = float(np.clip(self.moved / self.start, 0.0, 1.0)) if self.start else 0.0
        return 1.0 - w + w * moved


def frames_key(goal: str, frames: dict[str, np.ndarray]) -> bytes:
    """A digest of the goal and the frames of every view: where an episode's ledger is kept."""
    h = hashlib.blake2b(goal.encode(), digest_size=16)
    for view in sorted(frames):
        h.update(view.encode())
        h.update(np.ascontiguousarray(frames[view]).tobytes())
    return h.digest()


class Checked:
    """A `Reasoner` whose answers are capped by the ledger of its inner reasoner's stated facts."""

    def __init__(self, inner: Reasoner):
        self.inner = inner
        self.views = tuple(inner.views)
        self._ledgers: OrderedDict[bytes, Ledger] = OrderedDict()

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        steps = self.inner.judge(queries, think=True)
        out = []
        for q, step in zip(queries, steps, strict=True):
            ledger = self._ledger(q).read(step.text)
            self._remember(frames_key(q.goal, q.current), ledger)
            out.append(replace(step, progress=min(step.progress, ledger.bound())))
        return out

    def _ledger(self, q: Query) -> Ledger:
        """The ledger of the episode ``q`` continues; a new one at an episode's first query."""
        key = frames_key(q.goal, q.previous)
        if q.prev_progress == 0.0 and key == frames_key(q.goal, q.first):
            return Ledger()
        return self._ledgers.get(key, Ledger())

    def _remember(self, key: bytes, ledger: Ledger) -> None:
        self._ledgers[key] = ledger
        self._ledgers.move_to_end(key)
        while len(self._ledgers) > KEEP:
            self._ledgers.popitem(last=False)
