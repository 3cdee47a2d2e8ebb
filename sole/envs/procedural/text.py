"""Goal text of a generated task: paraphrases from templates and synonyms, naming objects by colour, shape and
size, and targets, mechanisms and directions by what they are.

Every name is unique within its world (colours are never repeated), so each paraphrase picks out one object.
"""

from __future__ import annotations

from sole.envs.procedural.world import Prim, Target, World

SHAPE_WORDS: dict[str, tuple[str, ...]] = {
    "box": ("block", "box", "cube"), "cylinder": ("cylinder", "can", "puck"), "sphere": ("ball", "sphere", "ball"),
    "capsule": ("capsule", "pill", "capsule"), "dumbbell": ("dumbbell", "barbell", "dumbbell"),
}
TARGET_WORDS: dict[str, tuple[str, ...]] = {
    "zone": ("zone", "patch", "area"), "plate": ("plate", "dish", "plate"), "bin": ("bin", "tray", "box"),
}
TEMPLATES: dict[str, tuple[str, ...]] = {
    "touch": ("touch the {o}", "reach for the {o}", "put the gripper on the {o}", "tap the {o}",
              "move the hand to the {o}"),
    "reach-zone": ("move the gripper over the {t}", "reach above the {t}", "hold the hand over the {t}",
                   "bring the gripper to the {t}", "hover over the {t}"),
    "push": ("push the {o} onto the {t}", "slide the {o} to the {t}", "push the {o} into the {t}",
             "shove the {o} over to the {t}", "nudge the {o} onto the {t}"),
    "pull": ("pull the {o} towards you onto the {t}", "drag the {o} back to the {t}",
             "pull the {o} back onto the {t}", "bring the {o} towards the robot into the {t}",
             "draw the {o} back to the {t}"),
    "sweep": ("sweep the {o} {d} onto the {t}", "sweep the {o} sideways into the {t}",
              "brush the {o} over to the {t}", "sweep the {o} across to the {t}", "slide the {o} {d} to the {t}"),
    "shift": ("push the {o} {a} to the {d}", "slide the {o} {a} {d}", "move the {o} {a} to the {d}",
              "shove the {o} {a} {d}", "nudge the {o} {a} to the {d}"),
    "pick-place": ("put the {o} on the {t}", "pick up the {o} and place it on the {t}", "move the {o} onto the {t}",
                   "lift the {o} and set it down on the {t}", "place the {o} on the {t}"),
    "insert": ("put the {o} in the {t}", "drop the {o} into the {t}", "place the {o} inside the {t}",
               "pick up the {o} and put it into the {t}", "insert the {o} into the {t}"),
    "stack": ("stack the {o} on the {b}", "put the {o} on top of the {b}", "place the {o} onto the {b}",
              "set the {o} down on the {b}", "pile the {o} on the {b}"),
    "lift": ("lift the {o} {a}", "pick up the {o} and raise it {a}", "raise the {o} {a} off the table",
             "hold the {o} up {a}", "lift the {o} up {a}"),
    "press": ("press the {m}", "push the {m} down", "press down on the {m}", "push in the {m}", "hit the {m}"),
    "open": ("open the {m}", "pull the {m} open", "open up the {m}", "swing the {m} open", "get the {m} open"),
    "close": ("close the {m}", "push the {m} shut", "shut the {m}", "push the {m} closed", "close up the {m}"),
    "turn": ("turn the {m} {a} {d}", "rotate the {m} {a} {d}", "twist the {m} {a} {d}",
             "turn the {m} {d} by {a}", "rotate the {m} {d} {a}"),
    "slide": ("slide the {m} to the {d}", "move the {m} all the way {d}", "push the {m} to the {d} end",
              "slide the {m} {d}", "shift the {m} over to the {d}"),
    "pull-lever": ("pull the {m} towards you", "pull the {m} down", "tip the {m} towards the robot",
                   "pull back the {m}", "lower the {m} towards you"),
    "push-lever": ("push the {m} back up", "raise the {m}", "push the {m} away from you", "stand the {m} up",
                   "set the {m} upright"),
}
"""Per verb, five or more templates: ``{o}`` the object, ``{t}`` the target, ``{b}`` what it is stacked on,
``{m}`` the mechanism, ``{d}`` a direction, ``{a}`` an amount."""
MECH_WORDS: dict[str, tuple[str, ...]] = {
    "drawer": ("drawer",), "door": ("door",), "button": ("button", "push button"), "knob": ("knob", "dial"),
    "slider": ("slider", "sliding block"), "lever": ("lever", "joystick"),
}


def object_name(p: Prim, variant: int) -> str:
    """The object by colour and shape, with its size on odd variants."""
    shape = SHAPE_WORDS[p.shape][variant % 3]
    if p.shape == "box" and shape == "cube" and max(p.half) > 1.3 * min(p.half):
        shape = "block"
    return f"{p.size} {p.colour} {shape}" if variant % 2 else f"{p.colour} {shape}"


def target_name(t: Target, variant: int) -> str:
    return f"{t.colour} {TARGET_WORDS[t.kind][variant % 3]}"


def amount(world: World) -> str:
    if world.mech is not None:
        turns = abs(world.qgoal - world.mech.q0) / (2 * 3.141592653589793)
        return "a quarter turn" if turns > 0.18 else "an eighth of a turn"
    cm = round(100 * max(abs(v) for v in world.offset))
    return f"{cm} cm"


def goal_texts(world: World) -> tuple[str, ...]:
    """Five or more distinct paraphrases of the world's goal; the first is the canonical one."""
    out: list[str] = []
    for i, template in enumerate(TEMPLATES[world.verb]):
        slots = {"d": world.direction, "a": amount(world) if "{a}" in template else ""}
        if world.prims and world.subject is not None:
            slots["o"] = object_name(world.prims[0], i)
        if world.verb == "stack":
            slots["b"] = object_name(world.prims[1], i + 1)
        if world.target is not None:
            slots["t"] = target_name(world.target, i)
        if world.mech is not None:
            words = MECH_WORDS[world.mech.kind]
            slots["m"] = f"{world.mech.colour} {words[i % len(words)]}" if i % 2 else f"{words[i % len(words)]}"
        out.append(template.format(**slots))
    return tuple(dict.fromkeys(out))


def object_phrase(world: World) -> str:
    """What the task acts on, as the reasoning names it (`TaskSpec.obj`)."""
    if world.mech is not None:
        return MECH_WORDS[world.mech.kind][0]
    if world.subject is None:
        return target_name(world.target, 0)  # type: ignore[arg-type]
    return object_name(world.subject, 0)
