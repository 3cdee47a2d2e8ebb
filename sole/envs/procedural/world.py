"""What a generated task is made of: loose primitives, one articulated mechanism, one target, and the verb's goal.

A `World` is plain data (frozen dataclasses of numbers and words), so the same seed gives the same world, the MJCF
is a function of it, and the goal text can name every part by its colour, shape and size. Lengths are metres in
Meta-World's frame: the table top is z = 0, the robot's base sits at y = 0 facing +y, and +x is the robot's right.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

PALETTE: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.1, 0.1), "green": (0.1, 0.65, 0.2), "blue": (0.15, 0.3, 0.9), "yellow": (0.95, 0.85, 0.1),
    "orange": (1.0, 0.5, 0.0), "purple": (0.55, 0.2, 0.75), "white": (0.95, 0.95, 0.95), "black": (0.08, 0.08, 0.08),
    "pink": (1.0, 0.45, 0.7), "cyan": (0.1, 0.8, 0.85),
}
"""Named colours, so goal text can say which object is meant (brown is left out: the table is wood)."""

SHAPES = ("box", "cylinder", "sphere", "capsule", "dumbbell")
"""Loose object shapes; a dumbbell is a compound of a bar and two balls."""

MECHANISMS = ("drawer", "button", "knob", "slider", "door", "lever")
"""Articulated primitives, one joint each (``mech_joint``)."""

TARGETS = ("zone", "plate", "bin")
"""Where a loose object can be put: a flat coloured patch, a low disc, an open box."""

OPPOSITE_VERBS = {"open": "close", "close": "open", "pull-lever": "push-lever", "push-lever": "pull-lever"}
OPPOSITE_DIRECTIONS = {"left": "right", "right": "left", "clockwise": "counter-clockwise",
                       "counter-clockwise": "clockwise"}

Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Prim:
    """A loose object on the table (a free body)."""

    name: str
    """Body name in the model, ``obj<i>``."""
    shape: str
    """One of `SHAPES`."""
    colour: str
    """A `PALETTE` key; unique within a world."""
    size: str
    """``small`` or ``large``, as the text says it."""
    half: Vec3
    """Half extents of its bounding box (x, y, z)."""
    xy: Vec2
    """Position on the table; it rests on the table top."""
    mass: float
    """kg."""
    friction: float
    """Sliding friction coefficient."""

    @property
    def footprint(self) -> float:
        """Radius of the circle around it that nothing else may enter."""
        return float((self.half[0] ** 2 + self.half[1] ** 2) ** 0.5)


@dataclass(frozen=True)
class Mech:
    """An articulated primitive: a fixed base and one moving part on ``mech_joint``."""

    kind: str
    """One of `MECHANISMS`."""
    colour: str
    """Colour of the moving part."""
    xy: Vec2
    """Base position on the table."""
    q0: float
    """Joint value at reset (m for sliding joints, rad for hinges)."""


@dataclass(frozen=True)
class Target:
    """A place on the table an object is brought to."""

    kind: str
    """One of `TARGETS`."""
    colour: str
    """A `PALETTE` key."""
    xy: Vec2
    """Centre on the table."""
    radius: float
    """Half width of the patch, plate or bin's inside."""


@dataclass(frozen=True)
class World:
    """One generated task: the scene, the verb and where the verb's goal is."""

    seed: int
    """The generator seed (``proc:<seed>``)."""
    verb: str
    """A `sole.envs.procedural.verbs.VERBS` key."""
    prims: tuple[Prim, ...]
    """Loose objects; ``prims[0]`` is the one the verb acts on where it acts on a loose object (stack: ``prims[1]``
    is the object it goes onto). The rest are distractors."""
    mech: Mech | None = None
    """The mechanism the verb works, if any."""
    target: Target | None = None
    """The place the object goes, if any."""
    qgoal: float = 0.0
    """The mechanism's goal joint value."""
    offset: Vec3 = (0.0, 0.0, 0.0)
    """Goal displacement of the object from where it starts (push a way, lift), where no target marks the goal."""
    direction: str = ""
    """Direction word the goal text uses (left, right, away, towards you, up, clockwise...)."""

    @property
    def has_opposite(self) -> bool:
        """The scene has an opposite task: a mechanism that moves both ways (a button only goes down)."""
        return self.mech is not None and self.mech.kind != "button"

    def opposite(self) -> World:
        """The same scene with the goal undone: the mechanism starts at the goal and returns to where it started
        (open <-> close, clockwise <-> counter-clockwise, left <-> right)."""
        if not self.has_opposite:
            raise ValueError(f"a {self.verb} task has no opposite")
        return replace(self, verb=OPPOSITE_VERBS.get(self.verb, self.verb), mech=replace(self.mech, q0=self.qgoal),
                       qgoal=self.mech.q0, direction=OPPOSITE_DIRECTIONS.get(self.direction, self.direction))

    @property
    def subject(self) -> Prim | None:
        """The loose object the verb acts on, if the verb acts on one."""
        return None if self.mech is not None or self.verb == "reach-zone" else self.prims[0]


def world_to_dict(world: World) -> dict[str, Any]:
    """``world`` as JSON-ready plain data (`world_from_dict` reads it back)."""
    return asdict(world)


def world_from_dict(d: dict[str, Any]) -> World:
    """The `World` that `world_to_dict` wrote (JSON lists back to tuples)."""
    def fields(part: dict[str, Any]) -> dict[str, Any]:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in part.items()}

    prims = tuple(Prim(**fields(p)) for p in d["prims"])
    mech = Mech(**fields(d["mech"])) if d["mech"] else None
    target = Target(**fields(d["target"])) if d["target"] else None
    return World(**{**fields(d), "prims": prims, "mech": mech, "target": target})
