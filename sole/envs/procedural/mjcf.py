"""The MJCF of a `World`: Meta-World's own table, Sawyer arm, cameras and mocap weld, plus the world's primitives.

The model includes Meta-World's scene and arm files by the same relative paths its task models use, so it is written
to a folder laid out like Meta-World's assets (``scene/``, ``objects/``, ``textures/`` link to the installed ones) and
named by its content hash: the same world is written once and read by every process.

Names the env reads: loose bodies ``obj<i>`` (free joint ``obj<i>_joint``, geoms ``obj<i>_*``); the mechanism's
moving body ``mech`` on ``mech_joint`` (it does not collide with its fixed base ``mech_base``) with the site
``handle`` (where the hand works it); the invisible ``goal`` site Meta-World moves to the goal.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sole.envs.procedural.world import PALETTE, Mech, Prim, Target, World

BASE = (0.55, 0.55, 0.58)
"""Colour of fixed mechanism parts (cabinets, housings, rails)."""
OBJECT_CONTACT = 'solimp="0.99 0.99 0.01" solref="0.01 1"'
"""Contact settings of Meta-World's puck: stiff."""
JOINT_DAMPING: dict[str, str] = {
    "drawer": 'type="slide" axis="0 -1 0" range="0 0.16" damping="10"',
    "button": 'type="slide" axis="0 0 -1" range="0 0.02" stiffness="120" damping="2"',
    "knob": 'type="hinge" axis="0 0 1" range="-3.2 3.2" damping="0.3" frictionloss="0.02"',
    "slider": 'type="slide" axis="1 0 0" range="-0.1 0.1" damping="8"',
    "door": 'type="hinge" axis="0 0 -1" range="0 1.6" damping="0.5"',
    "lever": 'type="hinge" axis="1 0 0" range="-0.3 1.3" damping="0.3"',
}
"""Per mechanism, its joint: type, axis (increasing value = the direction of its base verb), range and damping."""


def rgba(colour: str | tuple[float, float, float]) -> str:
    r, g, b = PALETTE[colour] if isinstance(colour, str) else colour
    return f"{r:.3f} {g:.3f} {b:.3f} 1"


def _box(name: str, pos: str, half: str, colour: str | tuple[float, float, float], extra: str = "") -> str:
    return f'<geom name="{name}" type="box" pos="{pos}" size="{half}" rgba="{rgba(colour)}" {extra}/>'


def prim_body(p: Prim) -> str:
    """A free body resting on the table, its geoms sharing the object's mass and friction."""
    hx, hy, hz = p.half
    # torsional friction for all; a ball also gets rolling friction, or it rolls away from every touch
    rolling = "0.01" if p.shape == "sphere" else "0.0002"
    common = (f'rgba="{rgba(p.colour)}" friction="{p.friction} 0.01 {rolling}" {OBJECT_CONTACT} '
              f'condim="{6 if p.shape == "sphere" else 4}"')
    if p.shape == "box":
        geoms = [f'<geom name="{p.name}_g" type="box" size="{hx} {hy} {hz}" mass="{p.mass}" {common}/>']
    elif p.shape == "cylinder":
        geoms = [f'<geom name="{p.name}_g" type="cylinder" size="{hx} {hz}" mass="{p.mass}" {common}/>']
    elif p.shape == "sphere":
        geoms = [f'<geom name="{p.name}_g" type="sphere" size="{hx}" mass="{p.mass}" {common}/>']
    elif p.shape == "capsule":
        geoms = [f'<geom name="{p.name}_g" type="capsule" size="{hx} {hz - hx}" mass="{p.mass}" {common}/>']
    else:  # dumbbell: a bar between two balls, lying along x
        ball, reach = hz, hx - hz
        geoms = [f'<geom name="{p.name}_bar" type="capsule" fromto="{-reach} 0 0 {reach} 0 0" size="{ball / 2:.4f}" '
                 f'mass="{p.mass / 3:.4f}" {common}/>'] + [
            f'<geom name="{p.name}_ball{i}" type="sphere" pos="{s * reach} 0 0" size="{ball}" mass="{p.mass / 3:.4f}" '
            f'{common}/>' for i, s in enumerate((-1, 1))]
    return (f'<body name="{p.name}" pos="{p.xy[0]} {p.xy[1]} {hz}"><freejoint name="{p.name}_joint"/>'
            + inertial(p.mass, p.half) + "".join(geoms) + "</body>")


def inertial(mass: float, half: tuple[float, float, float]) -> str:
    """An explicit inertia (a solid box of the part's bounding box): Meta-World's compiler settings take inertia
    only from geoms in groups 4-5, so every moving body states its own."""
    x, y, z = (h * h for h in half)
    return (f'<inertial pos="0 0 0" mass="{mass}" '
            f'diaginertia="{mass / 3 * (y + z):.3g} {mass / 3 * (x + z):.3g} {mass / 3 * (x + y):.3g}"/>')


def _drawer(c: str) -> tuple[str, str]:
    base = _box("mech_cabinet", "0 0 0.06", "0.1 0.1 0.06", BASE)
    moving = "".join((
        _box("mech_tray", "0 0 0.055", "0.09 0.09 0.045", c, 'contype="0" conaffinity="0"'),
        _box("mech_front", "0 -0.11 0.06", "0.1 0.01 0.055", c),
        _box("mech_post0", "-0.045 -0.155 0.07", "0.006 0.035 0.006", c),
        _box("mech_post1", "0.045 -0.155 0.07", "0.006 0.035 0.006", c),
        _box("mech_bar", "0 -0.195 0.07", "0.055 0.007 0.007", c),
        '<site name="handle" pos="0 -0.154 0.07" size="0.005" rgba="0 0 0 0"/>',
    ))
    return base, moving


def _button(c: str) -> tuple[str, str]:
    base = _box("mech_housing", "0 0 0.03", "0.035 0.035 0.03", BASE)
    moving = (f'<geom name="mech_cap" type="cylinder" pos="0 0 0.072" size="0.022 0.012" rgba="{rgba(c)}"/>'
              '<site name="handle" pos="0 0 0.084" size="0.005" rgba="0 0 0 0"/>')
    return base, moving


def _knob(c: str) -> tuple[str, str]:
    base = f'<geom name="mech_plate" type="cylinder" pos="0 0 0.006" size="0.066 0.006" rgba="{rgba(BASE)}"/>'
    moving = (f'<geom name="mech_disc" type="cylinder" pos="0 0 0.02" size="0.06 0.008" rgba="{rgba(c)}"/>'
              + _box("mech_nub", "0.045 0 0.048", "0.01 0.01 0.02", c)
              + '<site name="handle" pos="0.045 0 0.048" size="0.005" rgba="0 0 0 0"/>')
    return base, moving


def _slider(c: str) -> tuple[str, str]:
    base = _box("mech_rail", "0 0 0.01", "0.13 0.02 0.01", BASE)
    moving = (_box("mech_block", "0 0 0.035", "0.025 0.03 0.015", c)
              + f'<geom name="mech_post" type="cylinder" pos="0 0 0.075" size="0.01 0.025" rgba="{rgba(c)}"/>'
              + '<site name="handle" pos="0 0 0.07" size="0.005" rgba="0 0 0 0"/>')
    return base, moving


def _door(c: str) -> tuple[str, str]:
    base = _box("mech_frame", "-0.115 0 0.05", "0.01 0.02 0.05", BASE)
    moving = "".join((  # low, so the hand above the fingers clears the panel as it swings
        _box("mech_panel", "0.1 0 0.05", "0.1 0.01 0.045", c),
        _box("mech_post0", "0.125 -0.04 0.07", "0.006 0.03 0.006", c),
        _box("mech_post1", "0.185 -0.04 0.07", "0.006 0.03 0.006", c),
        _box("mech_bar", "0.155 -0.077 0.07", "0.04 0.007 0.007", c),
        '<site name="handle" pos="0.155 -0.04 0.07" size="0.005" rgba="0 0 0 0"/>',
    ))
    return base, moving


def _lever(c: str) -> tuple[str, str]:
    base = _box("mech_foot", "0 0 0.02", "0.03 0.03 0.02", BASE)
    moving = (f'<geom name="mech_stick" type="capsule" fromto="0 0 0 0 0 0.12" size="0.008" rgba="{rgba(c)}"/>'
              f'<geom name="mech_ball" type="sphere" pos="0 0 0.13" size="0.02" rgba="{rgba(c)}"/>'
              '<site name="handle" pos="0 0 0.13" size="0.005" rgba="0 0 0 0"/>')
    return base, moving


MECH_PARTS = {"drawer": _drawer, "button": _button, "knob": _knob, "slider": _slider, "door": _door,
              "lever": _lever}
"""Mechanism kind -> (fixed geoms, moving geoms and sites), in the base's frame."""
PIVOT: dict[str, str] = {"drawer": "0 0 0", "button": "0 0 0", "knob": "0 0 0", "slider": "0 0 0",
                         "door": "-0.1 0 0", "lever": "0 0 0.04"}
"""Where the moving body (and so its joint) sits in the base's frame."""


MASS: dict[str, float] = {"drawer": 0.3, "button": 0.02, "knob": 0.3, "slider": 0.3, "door": 0.3, "lever": 0.3}
"""kg of each moving part; a button's is small, or its own weight would press it against its spring."""


def mech_body(m: Mech) -> str:
    base, moving = MECH_PARTS[m.kind](m.colour)
    return (f'<body name="mech_base" pos="{m.xy[0]} {m.xy[1]} 0">{base}'
            f'<body name="mech" pos="{PIVOT[m.kind]}">{inertial(MASS[m.kind], (0.05, 0.05, 0.05))}'
            f'<joint name="mech_joint" limited="true" {JOINT_DAMPING[m.kind]}/>'
            f'{moving}</body></body>')


def target_body(t: Target) -> str:
    """A zone (a flat patch that nothing collides with), a plate (a low disc) or a bin (a floor and four walls)."""
    c, r = t.colour, t.radius
    if t.kind == "zone":
        geoms = (f'<geom name="target_g" type="cylinder" pos="0 0 0.0005" size="{r} 0.0005" rgba="{rgba(c)}" '
                 'contype="0" conaffinity="0"/>')
    elif t.kind == "plate":
        geoms = f'<geom name="target_g" type="cylinder" pos="0 0 0.006" size="{r} 0.006" rgba="{rgba(c)}"/>'
    else:
        w = r + 0.006
        geoms = _box("target_floor", "0 0 0.003", f"{w} {w} 0.003", c) + "".join(
            _box(f"target_wall{i}", f"{dx * w} {dy * w} 0.025", f"{0.006 if dx else w} {0.006 if dy else w} 0.025", c)
            for i, (dx, dy) in enumerate(((1, 0), (-1, 0), (0, 1), (0, -1))))
    return f'<body name="target" pos="{t.xy[0]} {t.xy[1]} 0">{geoms}</body>'


def world_xml(world: World) -> str:
    """The full MJCF text of ``world``."""
    bodies = [prim_body(p) for p in world.prims]
    if world.mech is not None:
        bodies.append(mech_body(world.mech))
    if world.target is not None:
        bodies.append(target_body(world.target))
    return f"""<mujoco>
  <include file="../scene/basic_scene.xml"/>
  <include file="../objects/assets/xyz_base_dependencies.xml"/>
  <worldbody>
    <include file="../objects/assets/xyz_base.xml"/>
    {chr(10).join(bodies)}
    <site name="goal" pos="0 0.6 0.02" size="0.01" rgba="0 0 0 0"/>
  </worldbody>
  <actuator>
    <position ctrllimited="true" ctrlrange="-1 1" joint="r_close" kp="400" user="1"/>
    <position ctrllimited="true" ctrlrange="-1 1" joint="l_close" kp="400" user="1"/>
  </actuator>
  <equality><weld body1="mocap" body2="hand" solref="0.02 1"/></equality>
  {'<contact><exclude body1="mech_base" body2="mech"/></contact>' if world.mech is not None else ""}
</mujoco>
"""


def cache_dir() -> Path:
    """Where generated models are written: ``$SOLE_CACHE/procedural`` (default ``~/.cache/sole/procedural``)."""
    return Path(os.environ.get("SOLE_CACHE", Path.home() / ".cache" / "sole")) / "procedural"


def model_path(world: World) -> Path:
    """The MJCF file of ``world``, written on first use beside links to Meta-World's assets."""
    from metaworld.asset_path_utils import full_V3_path_for

    root = cache_dir()
    assets = Path(full_V3_path_for("sawyer_xyz/x.xml")).parent.parent
    (root / "xml").mkdir(parents=True, exist_ok=True)
    for sub in ("scene", "objects", "textures"):
        link = root / sub
        if not link.exists():
            tmp = root / f".{sub}.{os.getpid()}"
            tmp.symlink_to(assets / sub, target_is_directory=True)
            os.replace(tmp, link)
    text = world_xml(world)
    path = root / "xml" / f"{hashlib.sha1(text.encode()).hexdigest()[:16]}.xml"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return path
