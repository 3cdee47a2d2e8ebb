"""Sampling a `World` for a verb: the objects, the mechanism or target, where they stand and where the goal is.

Everything is drawn from one ``numpy`` generator, so a seed gives one world. Parts keep a clearance from each other
and from the path the verb's motion sweeps (a pushed object's route, a drawer's travel), so a sampled layout is
solvable as drawn; what sampling cannot see (physics, views) is checked after building (`generate`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sole.envs.procedural.world import OPPOSITE_VERBS, PALETTE, SHAPES, Mech, Prim, Target, World

LO, HI = np.array([-0.22, 0.52]), np.array([0.22, 0.82])
"""The table area objects are placed in (x, y): in front of the robot, inside its reach and both cameras."""
GAP = 0.03
"""Clearance (m) between the keep-out circles of any two parts."""
GRASPABLE = ("box", "cylinder", "sphere", "capsule")
PUSHABLE = ("box", "cylinder")
"""Shapes a closed gripper pushes without them rolling or tipping (balls and dumbbells roll, an upright capsule
stands on a round end)."""
KEEP_OUT: dict[str, tuple[tuple[float, float, float], ...]] = {
    "drawer": ((0.0, 0.0, 0.15), (0.0, -0.2, 0.07), (0.0, -0.32, 0.07)),
    "button": ((0.0, 0.0, 0.07),),
    "knob": ((0.0, 0.0, 0.09),),
    "slider": ((-0.09, 0.0, 0.06), (0.0, 0.0, 0.06), (0.09, 0.0, 0.06)),
    "door": ((0.0, 0.0, 0.12), (0.0, -0.14, 0.12)),
    "lever": ((0.0, 0.0, 0.06), (0.0, -0.1, 0.07)),
}
"""Per mechanism, circles (dx, dy, radius) around its base that distractors stay out of (its body and travel)."""


class LayoutError(ValueError):
    """A layout that cannot be used; the message is the reason recorded."""


Spot = tuple[np.ndarray, float]
"""A taken circle: centre (x, y) and radius."""


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _xy(v: np.ndarray) -> tuple[float, float]:
    return round(float(v[0]), 4), round(float(v[1]), 4)


def free_spot(rng: np.random.Generator, radius: float, taken: list[Spot], lo: np.ndarray = LO,
              hi: np.ndarray = HI) -> np.ndarray:
    """A centre in [lo, hi] whose circle of ``radius`` keeps `GAP` from every taken one; `LayoutError` if crowded."""
    for _ in range(60):
        xy = rng.uniform(lo, hi)
        if all(np.linalg.norm(xy - c) >= radius + r + GAP for c, r in taken):
            return xy
    raise LayoutError("crowded: no free spot")


def sample_prim(rng: np.random.Generator, name: str, colour: str, shapes: tuple[str, ...] = SHAPES) -> Prim:
    """A loose object of a random shape, size, mass and friction (centre not yet placed)."""
    shape, size = str(rng.choice(shapes)), str(rng.choice(["small", "large"]))
    s = 1.0 if size == "small" else 1.3
    if shape == "box":
        half = (_u(rng, 0.016, 0.022) * s, _u(rng, 0.016, 0.022) * s, _u(rng, 0.016, 0.024) * s)
    elif shape == "cylinder":
        r = _u(rng, 0.016, 0.021) * s
        half = (r, r, _u(rng, 0.014, 0.025) * s)
    elif shape == "sphere":
        r = _u(rng, 0.018, 0.022) * s
        half = (r, r, r)
    elif shape == "capsule":
        r = _u(rng, 0.014, 0.018) * s
        half = (r, r, r + _u(rng, 0.008, 0.015) * s)
    else:  # dumbbell: a bar along x between two balls
        ball = _u(rng, 0.016, 0.019) * s
        half = (_u(rng, 0.03, 0.04) * s + ball, ball, ball)
    return Prim(name=name, shape=shape, colour=colour, size=size, half=tuple(round(h, 4) for h in half),  # type: ignore[arg-type]
                xy=(0.0, 0.0), mass=round(_u(rng, 0.05, 0.3), 3), friction=round(_u(rng, 0.7, 1.2), 3))


def _placed(p: Prim, xy: np.ndarray) -> Prim:
    return Prim(p.name, p.shape, p.colour, p.size, p.half, _xy(xy), p.mass, p.friction)


def _distractors(rng: np.random.Generator, colours: list[str], taken: list[Spot], first: int) -> tuple[Prim, ...]:
    """0-3 loose objects of unused colours in free spots (fewer where the table is crowded)."""
    out = []
    for i in range(int(rng.integers(0, 4))):
        p = sample_prim(rng, f"obj{first + i}", colours.pop())
        try:
            xy = free_spot(rng, p.footprint, taken)
        except LayoutError:
            break
        taken.append((xy, p.footprint))
        out.append(_placed(p, xy))
    return tuple(out)


def _segment_spots(a: np.ndarray, b: np.ndarray, radius: float) -> list[Spot]:
    """Circles of ``radius`` along the segment a -> b: the swept path of a pushed object."""
    n = int(np.ceil(np.linalg.norm(b - a) / radius)) + 1
    return [(a + (b - a) * t, radius) for t in np.linspace(0.0, 1.0, n)]


def _colours(rng: np.random.Generator) -> list[str]:
    return [str(c) for c in rng.permutation(list(PALETTE))]


# --- loose-object verbs -----------------------------------------------------------------------------------------
PUSH_DIRECTIONS: dict[str, tuple[float, float]] = {
    "push": (np.pi / 2, np.pi / 3), "pull": (-np.pi / 2, np.pi / 4), "sweep": (0.0, np.pi / 9),
}
"""Push-family verb -> (mean heading of the goal from the object, spread): away, towards the robot, sideways."""
SHIFTS: dict[str, tuple[float, float]] = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "away": (0.0, 1.0),
                                          "towards you": (0.0, -1.0)}
"""Direction words of a push by an amount, in the robot's frame (+x is its right, +y away from it)."""


def _push_goal(rng: np.random.Generator, verb: str, subj: Prim) -> tuple[np.ndarray, np.ndarray, str]:
    """A start and a goal on the work area for a push-family verb, and the direction word of a shift."""
    for _ in range(30):
        start = free_spot(rng, subj.footprint, [])
        if verb == "shift":
            direction = str(rng.choice(list(SHIFTS)))
            goal = start + np.array(SHIFTS[direction]) * float(rng.choice([0.1, 0.15]))
        else:
            mean, spread = PUSH_DIRECTIONS[verb]
            heading = mean + _u(rng, -spread, spread) + (np.pi if verb == "sweep" and rng.random() < 0.5 else 0.0)
            goal, direction = start + _u(rng, 0.12, 0.2) * np.array([np.cos(heading), np.sin(heading)]), ""
        if np.all(goal >= LO - 0.03) and np.all(goal <= HI + 0.03):
            return start, goal, direction
    raise LayoutError("unreachable: goal off the work area")


def _push(rng: np.random.Generator, verb: str, seed: int) -> World:
    """Push, pull or sweep a box or cylinder to a zone; or shift it a way by an amount (no zone)."""
    colours = _colours(rng)
    subj = sample_prim(rng, "obj0", colours.pop(), PUSHABLE)
    zone_r = round(_u(rng, 0.045, 0.06), 3)
    start, goal, direction = _push_goal(rng, verb, subj)
    push_from = start - (goal - start) / np.linalg.norm(goal - start) * (subj.footprint + 0.05)
    taken = _segment_spots(push_from, goal, subj.footprint + 0.02)
    target = None if verb == "shift" else Target("zone", colours.pop(), _xy(goal), zone_r)
    offset = (round(float(goal[0] - start[0]), 4), round(float(goal[1] - start[1]), 4), 0.0)
    prims = (_placed(subj, start), *_distractors(rng, colours, taken, 1))
    return World(seed=seed, verb=verb, prims=prims, target=target, offset=offset, direction=direction)


def _place(rng: np.random.Generator, verb: str, seed: int) -> World:
    """Pick up an object and put it in a zone or on a plate (pick-place), in a bin (insert), on a wide flat box
    (stack); or lift it by an amount."""
    colours = _colours(rng)
    subj = sample_prim(rng, "obj0", colours.pop(), GRASPABLE)
    start = free_spot(rng, subj.footprint, [])
    taken: list[Spot] = [(start, subj.footprint)]
    prims = [_placed(subj, start)]
    target, offset, direction = None, (0.0, 0.0, 0.0), ""
    if verb == "lift":
        direction, offset = "up", (0.0, 0.0, float(rng.choice([0.1, 0.15])))
    elif verb == "stack":
        base = Prim("obj1", "box", colours.pop(), "large", (round(_u(rng, 0.035, 0.045), 4),
                    round(_u(rng, 0.035, 0.045), 4), round(_u(rng, 0.012, 0.02), 4)), (0.0, 0.0), 1.0, 1.0)
        xy = free_spot(rng, base.footprint, taken)
        taken.append((xy, base.footprint))
        prims.append(_placed(base, xy))
    else:
        kind = "bin" if verb == "insert" else str(rng.choice(["zone", "plate"]))
        radius = round(_u(rng, 0.05, 0.065) if kind == "bin" else _u(rng, 0.05, 0.07), 3)
        xy = free_spot(rng, radius + (0.012 if kind == "bin" else 0.0), taken)
        taken.append((xy, radius + 0.012))
        target = Target(kind, colours.pop(), _xy(xy), radius)
    prims.extend(_distractors(rng, colours, taken, len(prims)))
    return World(seed=seed, verb=verb, prims=tuple(prims), target=target, offset=offset, direction=direction)


def _reach(rng: np.random.Generator, verb: str, seed: int) -> World:
    """Touch an object (touch) or bring the gripper over a zone (reach-zone)."""
    colours = _colours(rng)
    if verb == "touch":
        subj = sample_prim(rng, "obj0", colours.pop())
        xy = free_spot(rng, subj.footprint, [])
        return World(seed=seed, verb=verb, prims=(_placed(subj, xy), *_distractors(rng, colours, [(xy, subj.footprint)],
                                                                                   1)))
    radius = round(_u(rng, 0.045, 0.06), 3)
    xy = free_spot(rng, radius, [])
    target = Target("zone", colours.pop(), _xy(xy), radius)
    return World(seed=seed, verb=verb, prims=_distractors(rng, colours, [(xy, radius + 0.03)], 0), target=target)


# --- mechanism verbs --------------------------------------------------------------------------------------------
MECH_AREA: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "drawer": (np.array([-0.15, 0.78]), np.array([0.15, 0.84])),
    "button": (LO, HI),
    "knob": (LO, HI),
    "slider": (np.array([-0.12, 0.55]), np.array([0.12, 0.8])),
    "door": (np.array([-0.12, 0.74]), np.array([0.12, 0.82])),
    "lever": (np.array([-0.2, 0.62]), np.array([0.2, 0.82])),
}
"""Where each mechanism's base may stand: drawers and doors at the back, opening towards the robot."""
QUARTER, EIGHTH = np.pi / 2, np.pi / 4


def _mechanism(rng: np.random.Generator, verb: str, seed: int) -> World:
    """Open or close a drawer or door, press a button, turn a knob, move a slider to one end, pull or push a lever."""
    kind = MECH_VERBS[verb][int(rng.integers(len(MECH_VERBS[verb])))]
    colours = _colours(rng)
    xy = rng.uniform(*MECH_AREA[kind])
    direction, q0, qgoal = "", 0.0, 0.0
    if kind in ("drawer", "door"):
        q0, qgoal = 0.0, (0.12 if kind == "drawer" else 1.2)
    elif kind == "button":
        qgoal = 0.016
    elif kind == "knob":
        sign = float(rng.choice([-1.0, 1.0]))
        qgoal = sign * float(rng.choice([EIGHTH, QUARTER]))
        direction = "counter-clockwise" if sign > 0 else "clockwise"
    elif kind == "slider":
        sign = float(rng.choice([-1.0, 1.0]))
        q0, qgoal, direction = -0.08 * sign, 0.08 * sign, "right" if sign > 0 else "left"
    elif kind == "lever":
        q0, qgoal = 0.0, 0.9
    taken = [(xy + np.array([dx, dy]), r) for dx, dy, r in KEEP_OUT[kind]]
    undo = verb in ("close", "push-lever")  # sampled as the opposite of the verb that starts at rest, then undone
    world = World(seed=seed, verb=OPPOSITE_VERBS[verb] if undo else verb,
                  prims=_distractors(rng, colours[1:], taken, 0), mech=Mech(kind, colours[0], _xy(xy), q0),
                  qgoal=qgoal, direction=direction)
    return world.opposite() if undo else world


MECH_VERBS: dict[str, tuple[str, ...]] = {
    "open": ("drawer", "door"), "close": ("drawer", "door"), "press": ("button",), "turn": ("knob",),
    "slide": ("slider",), "pull-lever": ("lever",), "push-lever": ("lever",),
}
"""Mechanism verbs and the mechanisms each can act on."""

SAMPLERS: dict[str, Callable[[np.random.Generator, str, int], World]] = {
    "touch": _reach, "reach-zone": _reach,
    "push": _push, "pull": _push, "sweep": _push, "shift": _push,
    "pick-place": _place, "insert": _place, "stack": _place, "lift": _place,
    **{verb: _mechanism for verb in MECH_VERBS},
}
"""Verb -> the sampler of its worlds."""


def sample_world(seed: int, attempt: int, verbs: tuple[str, ...]) -> World:
    """The world of ``seed``'s ``attempt``-th try: a verb drawn from ``verbs``, then its layout."""
    rng = np.random.default_rng([seed, attempt])
    verb = verbs[int(rng.integers(len(verbs)))]
    return SAMPLERS[verb](rng, verb, seed)
