"""Procedural task worlds in Meta-World's Sawyer scene: ``proc:<seed>`` names a generated task wherever a task name
is accepted, and ``proc:<seed>:opposite`` the task that undoes it in the same scene (open <-> close a drawer...).

A seed gives a `World` (`layouts`): loose primitives, a mechanism or a target, a verb and its goal; `mjcf` builds
its model on Meta-World's arm and table, `env.ProcEnv` runs it as a Meta-World env, `text` writes its goal
paraphrases, `expert` solves it, `generate` keeps only worlds that pass its checks. The label is Meta-World's own
(`sole.envs.progress.TaskProgress`) over the verb's error (`verbs`).
"""

from __future__ import annotations

import re

from sole.envs.procedural.world import World
from sole.envs.tasks import TaskSpec

PREFIX = "proc:"
_NAME = re.compile(r"proc:(\d{1,9})(:opposite)?")


def parse(name: str) -> tuple[int, bool]:
    """(seed, opposite) of ``proc:<seed>`` or ``proc:<seed>:opposite``; a clear error for anything else."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"malformed procedural task name {name!r}; expected proc:<seed> or proc:<seed>:opposite, "
                         "seed a non-negative integer (e.g. proc:123)")
    return int(match.group(1)), match.group(2) is not None


def world_of(name: str) -> World:
    """The checked world a procedural task name stands for; ValueError if the generator cannot build one."""
    from sole.envs.procedural.generate import generate

    seed, opposite = parse(name)
    gen = generate(seed)
    if gen.world is None:
        reasons = "; ".join(sorted({r for _, r in gen.rejected}))
        raise ValueError(f"proc:{seed}: the generator built no sound task in {len(gen.rejected)} attempts ({reasons})")
    if opposite and not gen.world.has_opposite:
        raise ValueError(f"proc:{seed} ({gen.world.verb}) has no opposite task")
    return gen.world.opposite() if opposite else gen.world


def task_spec(name: str) -> TaskSpec:
    """The `TaskSpec` of a procedural task: its own fold ``proc``, its scene shared with its opposite."""
    from sole.envs.procedural.text import goal_texts, object_phrase
    from sole.envs.procedural.verbs import VERBS

    seed, opposite = parse(name)
    world = world_of(name)
    base = f"{PREFIX}{seed}"
    canonical = f"{base}:opposite" if opposite else base
    return TaskSpec(name=canonical, goals=goal_texts(world), fold="proc", phases=VERBS[world.verb].phases,
                    obj=object_phrase(world), scene=base,
                    opposite=(base if opposite else f"{base}:opposite") if world.has_opposite else None)


def describe(seed: int) -> dict[str, str]:
    """One row of ``sole tasks --procedural``: the task's verb, parts and goals (or why the seed has no task)."""
    from sole.envs.procedural.generate import generate

    world = generate(seed).world
    if world is None:
        return {"task": f"{PREFIX}{seed}", "verb": "-", "objects": "no sound task", "goals": ""}
    spec = task_spec(f"{PREFIX}{seed}")
    parts = [f"{p.size} {p.colour} {p.shape}" for p in world.prims]
    parts += [f"{x.colour} {x.kind}" for x in (world.mech, world.target) if x is not None]
    goals = list(spec.goals) + ([f"opposite: {task_spec(spec.opposite).goals[0]}"] if spec.opposite else [])
    return {"task": spec.name, "verb": world.verb, "objects": ", ".join(parts), "goals": " | ".join(goals)}

