"""Time-anchored chain of thought generated from facts, and a verifier that checks every claim back.

A completion reads like ``<think>t=12: the puck moved 3 cm toward the goal; the gripper holds the puck; the
puck is being carried; remaining: carry it 18 cm to the goal. Progress: 46%.</think><answer>46%</answer>``.

Every clause is an instance of one *claim* (`CLAIMS`): a few paraphrase templates plus one function that computes
the claim's slot values from the facts, or None where the claim is not true. Generation fills the slots of true
claims into a randomly chosen paraphrase; verification parses each clause back into (claim, slots) and recomputes
the slots from the facts, so one function is the single source of truth for both directions. A clause that no
claim parses, or whose numbers or direction differ from the facts, is reported.

The goal may differ from the task the video shows (`relation`): the *opposite* goal of the same scene (the
object moving toward the shown task's goal is moving the wrong way for it) or a *mismatched* goal of another
scene (nothing in the video can achieve it). Distances are the task's error as the facts report it (metres,
said in cm; lever-pull's error is an angle, said in degrees).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sole.envs.tasks import get_task

Relation = Literal["own", "opposite", "mismatch"]
THINK_RE = re.compile(r"^<think>(?P<think>.*)</think><answer>(?P<n>-?\d{1,3})%</answer>$", re.S)
GRIP_CHANGE = 0.15
"""Change of the gripper opening (0 closed .. 1 open) that counts as the gripper closing or opening."""
UNITS: dict[str, tuple[str, float]] = {"lever-pull": ("degrees", 180.0 / math.pi)}
"""Task -> (unit word, scale) of its error in the reasoning text; every other task: cm from metres."""


@dataclass(frozen=True)
class Context:
    """What the claims are computed from: the facts of two frames, the goal's progress and how the goal relates."""

    prev: dict[str, Any]
    cur: dict[str, Any]
    progress: float
    relation: Relation
    task: str
    goal_task: str

    @property
    def obj(self) -> str:
        return get_task(self.task).obj

    @property
    def phases(self) -> str:
        return get_task(self.task).phases

    def units(self, x: float) -> int:
        return int(round(abs(x) * UNITS.get(self.task, ("cm", 100.0))[1]))

    @property
    def unit(self) -> str:
        return UNITS.get(self.task, ("cm", 100.0))[0]

    def hand_delta(self) -> float:
        """Change of the hand's distance to what it must reach (the target itself for reach tasks)."""
        key = "obj_to_goal" if self.phases == "reach" else "hand_to_obj"
        return float(self.cur[key]) - float(self.prev[key])

    def obj_delta(self) -> float:
        return float(self.cur["obj_to_goal"]) - float(self.prev["obj_to_goal"])


Slots = dict[str, Any]


@dataclass(frozen=True)
class Claim:
    templates: tuple[str, ...]
    """Paraphrases; slots in braces: {t}, {d}, {n}, {u} (unit), {obj}, {gobj}."""
    slots: Callable[[Context], Slots | None]
    """The slot values where the claim is true, else None."""
    relations: tuple[Relation, ...] = ("own",)

    def holds(self, ctx: Context) -> Slots | None:
        return self.slots(ctx) if ctx.relation in self.relations else None


def _moved(delta: Callable[[Context], float], sign: int) -> Callable[[Context], Slots | None]:
    """Slots of "moved d units closer (sign -1) / farther (+1) / not at all (0)"."""
    def slots(ctx: Context) -> Slots | None:
        d, amount = delta(ctx), ctx.units(delta(ctx))
        if (sign == 0 and amount == 0) or (sign != 0 and amount > 0 and np.sign(d) == sign):
            return {"obj": ctx.obj, "u": ctx.unit, **({"d": amount} if sign else {})}
        return None
    return slots


def _obj_moved(sign: int) -> Callable[[Context], Slots | None]:
    """`_moved` for the object's distance to the goal; reach tasks have no object to move."""
    moved = _moved(Context.obj_delta, sign)
    return lambda c: None if c.phases == "reach" else moved(c)


def _when(test: Callable[[Context], bool], **extra: Callable[[Context], Any]) -> Callable[[Context], Slots | None]:
    """Slots {obj, u, **extra} where ``test`` holds."""
    def slots(ctx: Context) -> Slots | None:
        return {"obj": ctx.obj, "u": ctx.unit, **{k: f(ctx) for k, f in extra.items()}} if test(ctx) else None
    return slots


def _phase(name: str, phases: tuple[str, ...] = ("reach", "push", "pick")) -> Callable[[Context], Slots | None]:
    return _when(lambda c: c.cur["phase"] == name and c.phases in phases)


def _to_goal(c: Context) -> int:
    return c.units(c.cur["obj_to_goal"])


def _to_obj(c: Context) -> int:
    return c.units(c.cur["hand_to_obj"])


def _unsolved(phases: tuple[str, ...], phase: tuple[str, ...]) -> Callable[[Context], bool]:
    return lambda c: c.phases in phases and c.cur["phase"] in phase and not c.cur["success"]


_OWN_OPP: tuple[Relation, ...] = ("own", "opposite")

CLAIMS: dict[str, Claim] = {
    # time anchor, always first
    "anchor": Claim(("t={t}:", "step {t}:", "at t={t},"), lambda c: {"t": int(c.cur["t"])}, ("own", "opposite",
                                                                                             "mismatch")),
    # what changed: the hand
    "hand-closer": Claim(("the gripper moved {d} {u} closer to the {obj}", "the hand got {d} {u} nearer the {obj}"),
                         _moved(Context.hand_delta, -1), _OWN_OPP),
    "hand-away": Claim(("the gripper moved {d} {u} away from the {obj}", "the hand drew {d} {u} back from the {obj}"),
                       _moved(Context.hand_delta, 1), _OWN_OPP),
    "hand-still": Claim(("the gripper kept its distance to the {obj}", "the hand is no nearer the {obj}"),
                        _moved(Context.hand_delta, 0), _OWN_OPP),
    "grip-closed": Claim(("the gripper closed", "the fingers closed"),
                         lambda c: {} if c.cur["gripper_open"] - c.prev["gripper_open"] <= -GRIP_CHANGE else None,
                         _OWN_OPP),
    "grip-opened": Claim(("the gripper opened", "the fingers opened"),
                         lambda c: {} if c.cur["gripper_open"] - c.prev["gripper_open"] >= GRIP_CHANGE else None,
                         _OWN_OPP),
    # what changed: the object, for the shown task
    "obj-closer": Claim(("the {obj} moved {d} {u} toward the goal", "the {obj} got {d} {u} closer to the goal"),
                        _obj_moved(-1)),
    "obj-away": Claim(("the {obj} moved {d} {u} away from the goal", "the {obj} slipped {d} {u} back from the goal"),
                      _obj_moved(1)),
    "obj-still": Claim(("the {obj} is no closer to the goal", "the {obj} has not advanced"),
                       _obj_moved(0)),
    # what changed: the object, for the opposite goal
    "opp-wrong": Claim(("the {obj} moved {d} {u} the wrong way for this goal",
                        "the {obj} went {d} {u} against what this goal needs"), _obj_moved(-1),
                       ("opposite",)),
    "opp-right": Claim(("the {obj} moved {d} {u} the way this goal needs",
                        "the {obj} went {d} {u} in this goal's direction"), _obj_moved(1),
                       ("opposite",)),
    "opp-still": Claim(("the {obj} did not move either way", "the {obj} stayed where it was"),
                       _obj_moved(0), ("opposite",)),
    # state
    "holding": Claim(("the gripper holds the {obj}", "the {obj} is in the gripper"),
                     _when(lambda c: bool(c.cur["grasped"]))),
    "phase-reach": Claim(("the gripper is still reaching for the {obj}", "it is still approaching the {obj}"),
                         _phase("reach", ("push", "pick"))),
    "phase-reach-target": Claim(("the gripper is on its way to the {obj}", "the hand is still heading for the {obj}"),
                                _phase("reach", ("reach",))),
    "phase-grasp": Claim(("the gripper is at the {obj}, ready to grasp it", "the {obj} is within grasp"),
                         _phase("grasp")),
    "phase-move": Claim(("the {obj} is being moved", "the {obj} is on its way"), _phase("move")),
    "phase-carry": Claim(("the {obj} is being carried", "the {obj} is carried along"), _phase("carry")),
    "phase-done": Claim(("the task is done", "the goal is reached"), _when(lambda c: bool(c.cur["success"]))),
    # what remains
    "rem-target": Claim(("remaining: {n} {u} to the {obj}", "{n} {u} to go to the {obj}"),
                        _when(_unsolved(("reach",), ("reach",)), n=_to_goal)),
    "rem-push": Claim(("remaining: reach the {obj}, {d} {u} away, then move it {n} {u}",
                       "still to do: get to the {obj} ({d} {u}) and move it {n} {u}"),
                      _when(_unsolved(("push",), ("reach",)), d=_to_obj, n=_to_goal)),
    "rem-pick": Claim(("remaining: grasp the {obj}, {d} {u} away, then carry it {n} {u}",
                       "still to do: grasp the {obj} ({d} {u} off) and carry it {n} {u} to the goal"),
                      _when(_unsolved(("pick",), ("reach", "grasp")), d=_to_obj, n=_to_goal)),
    "rem-move": Claim(("remaining: {n} {u} to the goal", "the {obj} still has {n} {u} to go"),
                      _when(_unsolved(("push", "pick"), ("move", "carry")), n=_to_goal)),
    "rem-none": Claim(("nothing remains", "no work remains"), _when(lambda c: bool(c.cur["success"]))),
    "rem-opp": Claim(("for this goal the {obj} must go back where it started",
                      "this goal needs the {obj} moved back"), _when(lambda c: c.progress < 0.95), ("opposite",)),
    "opp-done": Claim(("the {obj} is where this goal wants it", "for this goal nothing remains"),
                      _when(lambda c: c.progress >= 0.95), ("opposite",)),
    # a goal of another scene
    "mismatch": Claim(("this scene is set up for another task", "this video shows a different task"),
                      lambda c: {}, ("mismatch",)),
    "mismatch-obj": Claim(("the goal is about the {gobj}, which is not handled here",
                           "nothing here can get the {gobj} done"),
                          lambda c: {"gobj": get_task(c.goal_task).obj}, ("mismatch",)),
    # the answer, always last
    "progress": Claim(("progress: {n}%", "so the progress is {n}%", "estimated progress: {n}%"),
                      lambda c: {"n": int(round(100 * c.progress))}, ("own", "opposite", "mismatch")),
}
"""Claim name -> templates and the function that says where it holds with which values."""

PLAN: dict[Relation, tuple[tuple[str, ...], ...]] = {
    "own": (("hand-closer", "hand-away", "hand-still"), ("grip-closed", "grip-opened"),
            ("obj-closer", "obj-away", "obj-still"), ("holding",),
            ("phase-done", "phase-reach", "phase-reach-target", "phase-grasp", "phase-move", "phase-carry"),
            ("rem-none", "rem-target", "rem-push", "rem-pick", "rem-move")),
    "opposite": (("hand-closer", "hand-away", "hand-still"), ("opp-wrong", "opp-right", "opp-still"),
                 ("opp-done", "rem-opp")),
    "mismatch": (("mismatch",), ("mismatch-obj",)),
}
"""The clauses of a completion between anchor and progress: from each group, the first claim that holds."""


def relation(task: str, goal_task: str) -> Relation:
    """How ``goal_task`` relates to the ``task`` a video shows."""
    shown, goal = get_task(task), get_task(goal_task)
    if shown.name == goal.name:
        return "own"
    return "opposite" if shown.scene == goal.scene else "mismatch"


def _context(goal_task: str, facts_prev: dict[str, Any], facts_cur: dict[str, Any], progress: float) -> Context:
    task = facts_cur.get("task", goal_task)
    return Context(prev=facts_prev, cur=facts_cur, progress=float(progress), relation=relation(task, goal_task),
                   task=get_task(task).name, goal_task=get_task(goal_task).name)


def _fill(claim: Claim, slots: Slots, rng: np.random.Generator) -> str:
    return claim.templates[int(rng.integers(len(claim.templates)))].format(**slots)


def make_cot(goal_task: str, goal_text: str, facts_prev: dict[str, Any], facts_cur: dict[str, Any],
             prev_progress: float, progress: float, rng: np.random.Generator) -> str:
    """``<think>...</think><answer>N%</answer>`` for ``goal_task`` between two frames' facts.

    ``facts_*`` are `Facts` dicts with a ``task`` key naming the task the video shows (the goal's own task when
    absent); ``progress`` is the goal's true progress at the current frame. ``goal_text`` and ``prev_progress``
    are part of the query the completion answers; the claims are derived from the facts alone.
    """
    ctx = _context(goal_task, facts_prev, facts_cur, progress)
    clauses = []
    for group in PLAN[ctx.relation]:
        for name in group:
            slots = CLAIMS[name].holds(ctx)
            if slots is not None:
                clauses.append(_fill(CLAIMS[name], slots, rng))
                break
    anchor = _fill(CLAIMS["anchor"], CLAIMS["anchor"].slots(ctx) or {}, rng)
    answer = _fill(CLAIMS["progress"], CLAIMS["progress"].slots(ctx) or {}, rng)
    n = round(100 * ctx.progress)
    return f"<think>{anchor} {'; '.join(clauses)}. {answer[0].upper()}{answer[1:]}.</think><answer>{n}%</answer>"


# --- verification ---------------------------------------------------------------------------------------------------
def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\})", template)
    out, seen = [], set()
    for part in parts:
        if part in seen:
            out.append(rf"(?P={part[1:-1]})")
        elif part in ("{t}", "{d}", "{n}"):
            out.append(rf"(?P<{part[1:-1]}>-?\d+)")
        elif part in ("{obj}", "{gobj}", "{u}"):
            out.append(rf"(?P<{part[1:-1]}>[a-z' ]+?)")
        else:
            out.append(re.escape(part))
        if part.startswith("{"):
            seen.add(part)
    return re.compile("^" + "".join(out) + "$", re.I)


PATTERNS: list[tuple[str, re.Pattern[str]]] = [(name, _pattern(t)) for name, c in CLAIMS.items() for t in c.templates]


def _parse(clause: str) -> list[tuple[str, Slots]]:
    """Every (claim, slots) reading of one clause."""
    readings = []
    for name, pattern in PATTERNS:
        m = pattern.match(clause)
        if m:
            slots = {k: int(v) if k in ("t", "d", "n") else v.lower() for k, v in m.groupdict().items()}
            readings.append((name, slots))
    return readings


def _agrees(expected: Slots | None, parsed: Slots) -> bool:
    return expected is not None and all(k in expected and expected[k] == v for k, v in parsed.items())


def _clauses(think: str) -> tuple[str, list[str]]:
    """Split the reasoning into its anchor and the clauses after it."""
    m = re.match(r"^\s*(t=\d+:|step \d+:|at t=\d+,)\s*", think, re.I)
    anchor = m.group(1) if m else ""
    rest = think[m.end():] if m else think
    return anchor, [c.strip() for c in re.split(r"[;.](?:\s+|$)", rest) if c.strip()]


def _judge(think: str, ctx: Context) -> tuple[str, list[tuple[str, bool, bool]]]:
    """The anchor, and per clause (text, is a progress claim, verified)."""
    anchor, clauses = _clauses(think)
    judged = []
    for clause in ([anchor] if anchor else []) + clauses:
        readings = _parse(clause)
        ok = any(_agrees(CLAIMS[name].holds(ctx), slots) for name, slots in readings)
        judged.append((clause, any(name == "progress" for name, _ in readings), ok))
    return anchor, judged


def verify_cot(text: str, facts_prev: dict[str, Any], facts_cur: dict[str, Any], progress: float, *,
               goal_task: str | None = None) -> list[str]:
    """Claims in ``text`` that the facts do not support (empty: every claim checks out).

    ``goal_task`` is the goal the completion was written for (default: the task the facts describe); pass it for
    counterfactual and mismatched goals.
    """
    m = THINK_RE.match(text.strip())
    if m is None:
        return ["not of the form <think>...</think><answer>N%</answer>"]
    ctx = _context(goal_task or facts_cur.get("task", ""), facts_prev, facts_cur, progress)
    errors = []
    if int(m.group("n")) != round(100 * ctx.progress):
        errors.append(f"answer {m.group('n')}% but the progress is {round(100 * ctx.progress)}%")
    anchor, judged = _judge(m.group("think"), ctx)
    errors += [f"{'false' if _parse(c) else 'unverifiable'} claim: {c!r}" for c, _, ok in judged if not ok]
    if not anchor:
        errors.append("no time anchor (t=N:)")
    return errors


def stated_claims(text: str) -> list[dict[str, Slots]]:
    """What a completion states, clause by clause: per clause every claim it reads as, with its slots.

    Checks nothing against facts: this is how a reader of a model's reasoning (`sole.models.checked`) learns what
    the model said. A malformed completion states nothing.
    """
    m = THINK_RE.match(text.strip())
    if m is None:
        return []
    return [dict(_parse(clause)) for clause in _clauses(m.group("think"))[1]]


def cot_fact_accuracy(text: str, facts_prev: dict[str, Any], facts_cur: dict[str, Any], progress: float, *,
                      goal_task: str | None = None) -> float:
    """Share of the reasoning's non-progress clauses that the facts verify (0 for a malformed completion).

    For scoring generated reasoning (e.g. a GRPO reward): the progress number is judged separately, so claims of
    progress are left out here; ``progress`` is the true label, which claims like "the goal is reached" need.
    """
    m = THINK_RE.match(text.strip())
    if m is None:
        return 0.0
    ctx = _context(goal_task or facts_cur.get("task", ""), facts_prev, facts_cur, progress)
    facts = [ok for _, is_progress, ok in _judge(m.group("think"), ctx)[1] if not is_progress]
    return float(np.mean(facts)) if facts else 0.0


def cot_words(text: str) -> int:
    """Words of the reasoning part of a completion."""
    m = THINK_RE.match(text.strip())
    return len((m.group("think") if m else text).split())
