"""The Meta-World task suite: one `TaskSpec` per MT50 task, with goals, phases, scene and fold.

Folds are data, kept here and nowhere else. A model trained on fold ``a`` is evaluated on fold ``b`` and vice
versa, so each of the 50 tasks is measured by a model that never saw it. How the folds were built:

- Same-object siblings sit in opposite folds wherever Meta-World has them: window-open/close, drawer-open/close,
  faucet-open/close, door-open/close and door-lock/unlock, the four button-press tasks, the three coffee tasks,
  the four handle tasks, the four plate-slide tasks, push/push-wall/push-back, pick-place/pick-place-wall,
  reach/reach-wall, sweep/sweep-into, peg-insert/peg-unplug, stick-push/stick-pull, assembly/disassemble.
  Where a family has more than two members, the verbs are split so each fold sees the object with another verb.
- ReWiND's eight unseen tasks split 4/4: fold a holds window-close, coffee-button, handle-press-side, door-lock;
  fold b holds reach-wall, faucet-close, button-press-wall, sweep-into.
- The SOLE-R1 paper's seventeen Meta-World tasks split 9/8 (fold a: faucet-open, window-close, plate-slide,
  drawer-close, door-open, button-press, handle-pull, coffee-button, handle-press-side).
- The eight tasks without a sibling fill the folds to 25 each (basketball, bin-picking, box-close, dial-turn
  in a; hammer, hand-insert, pick-out-of-hole, shelf-place in b).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Phases = Literal["reach", "push", "pick"]
"""Phase template of a task's progress: ``reach`` moves the hand to a goal; ``push`` reaches an object and moves
it (press, slide, turn, open...); ``pick`` reaches, grasps, then carries the object."""

FOLDS = ("a", "b")
PROC_FOLD = "proc"
"""The fold of generated tasks (``proc:<seed>``): in neither Meta-World fold, so every Meta-World task stays unseen
by a model trained only on them."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    """Short task name, e.g. ``window-close``."""
    goals: tuple[str, ...]
    """Natural-language goal paraphrases; ``goals[0]`` is the canonical one."""
    fold: Literal["a", "b", "proc"]
    """Generalisation fold: a model trained on one fold is evaluated on the other; generated tasks are ``proc``."""
    phases: Phases
    """Phase template used by the progress function and the reasoning text."""
    obj: str
    """The object the task acts on, as the reasoning names it."""
    scene: str
    """Tasks with the same scene share objects, so one rollout can be labelled for each of their goals."""
    opposite: str | None = None
    """The task whose goal undoes this one in the same scene (window-open for window-close), if any."""

    @property
    def env_id(self) -> str:
        return f"{self.name}-v3"


def _t(name: str, fold: str, phases: Phases, obj: str, goals: tuple[str, ...], scene: str | None = None,
       opposite: str | None = None) -> TaskSpec:
    return TaskSpec(name=name, goals=goals, fold=fold, phases=phases, obj=obj, scene=scene or name,  # type: ignore[arg-type]
                    opposite=opposite)


_SPECS: tuple[TaskSpec, ...] = (
    _t("assembly", "b", "pick", "ring", ("put the ring on the peg", "slide the ring down over the peg",
                                         "assemble the ring onto the peg"), scene="assembly", opposite="disassemble"),
    _t("basketball", "a", "pick", "ball", ("put the ball into the hoop", "dunk the basketball in the hoop",
                                           "pick up the ball and drop it through the hoop")),
    _t("bin-picking", "a", "pick", "cube", ("move the cube from the left bin to the right bin",
                                            "pick the cube out of one bin and place it in the other bin",
                                            "transfer the cube between the bins")),
    _t("box-close", "a", "pick", "lid", ("put the lid on the box", "close the box with its lid",
                                         "cover the box with the lid")),
    _t("button-press-topdown", "b", "push", "button", ("press the button from the top", "push the button down",
                                                        "press down on the button from above"),
       scene="button-topdown"),
    _t("button-press-topdown-wall", "a", "push", "button", ("press the button from the top behind the wall",
                                                             "push down the button that sits behind a wall",
                                                             "reach over the wall and press the button down"),
       scene="button-topdown-wall"),
    _t("button-press", "a", "push", "button", ("press the button", "push the button in",
                                               "press the button on the front of the box"), scene="button"),
    _t("button-press-wall", "b", "push", "button", ("press the button behind the wall",
                                                    "push in the button that sits behind a wall",
                                                    "reach around the wall and press the button"),
       scene="button-wall"),
    _t("coffee-button", "a", "push", "coffee machine button", ("press the button on the coffee machine",
                                                                "push the coffee machine's button",
                                                                "start the coffee machine with its button"),
       scene="coffee-button"),
    _t("coffee-pull", "a", "push", "mug", ("pull the mug away from the coffee machine",
                                           "slide the mug out from under the coffee machine",
                                           "take the mug back from the coffee machine"),
       scene="coffee-mug", opposite="coffee-push"),
    _t("coffee-push", "b", "push", "mug", ("push the mug under the coffee machine",
                                           "slide the mug beneath the coffee spout",
                                           "move the mug into the coffee machine"),
       scene="coffee-mug", opposite="coffee-pull"),
    _t("dial-turn", "a", "push", "dial", ("turn the dial", "rotate the dial a quarter turn",
                                          "twist the knob on the dial")),
    _t("disassemble", "a", "pick", "ring", ("take the ring off the peg", "lift the ring up off the peg",
                                            "remove the ring from the peg"), scene="assembly", opposite="assembly"),
    _t("door-close", "b", "push", "door", ("close the door", "swing the door shut", "push the door closed"),
       scene="door", opposite="door-open"),
    _t("door-lock", "a", "push", "door lock", ("lock the door", "turn the lock on the door to locked",
                                               "rotate the door's lock down"), scene="door-lock",
       opposite="door-unlock"),
    _t("door-open", "a", "push", "door", ("open the door", "pull the door open", "swing the door open"),
       scene="door", opposite="door-close"),
    _t("door-unlock", "b", "push", "door lock", ("unlock the door", "turn the lock on the door to unlocked",
                                                 "rotate the door's lock up"), scene="door-lock",
       opposite="door-lock"),
    _t("hand-insert", "b", "push", "puck", ("push the puck into the hole", "slide the puck into the hole in the table",
                                            "insert the puck into the hole")),
    _t("drawer-close", "a", "push", "drawer", ("close the drawer", "push the drawer shut", "slide the drawer in"),
       scene="drawer", opposite="drawer-open"),
    _t("drawer-open", "b", "push", "drawer", ("open the drawer", "pull the drawer out", "slide the drawer open"),
       scene="drawer", opposite="drawer-close"),
    _t("faucet-open", "a", "push", "faucet", ("open the faucet", "turn the faucet on",
                                              "rotate the faucet handle to open it"), scene="faucet",
       opposite="faucet-close"),
    _t("faucet-close", "b", "push", "faucet", ("close the faucet", "turn the faucet off",
                                               "rotate the faucet handle to close it"), scene="faucet",
       opposite="faucet-open"),
    _t("hammer", "b", "pick", "hammer", ("hammer the nail in", "use the hammer to drive the nail into the wall",
                                         "pick up the hammer and hit the nail")),
    _t("handle-press-side", "a", "push", "handle", ("press the handle down from the side",
                                                    "push the side handle down",
                                                    "press down on the handle from its side"),
       scene="handle-side", opposite="handle-pull-side"),
    _t("handle-press", "b", "push", "handle", ("press the handle down", "push the handle down",
                                               "press down on the handle"), scene="handle", opposite="handle-pull"),
    _t("handle-pull-side", "b", "push", "handle", ("pull the handle up from the side", "lift the side handle up",
                                                   "raise the handle from its side"), scene="handle-side",
       opposite="handle-press-side"),
    _t("handle-pull", "a", "push", "handle", ("pull the handle up", "lift the handle up", "raise the handle"),
       scene="handle", opposite="handle-press"),
    _t("lever-pull", "b", "push", "lever", ("pull the lever up", "raise the lever", "lift the lever upward")),
    _t("peg-insert-side", "b", "pick", "peg", ("insert the peg into the hole from the side",
                                               "push the peg sideways into the hole",
                                               "pick up the peg and slide it into the hole"),
       scene="peg-side", opposite="peg-unplug-side"),
    _t("pick-place-wall", "b", "pick", "puck", ("pick up the puck and place it at the goal behind the wall",
                                                "lift the puck over the wall and put it on the target",
                                                "move the puck past the wall to the goal"),
       scene="pick-place-wall"),
    _t("pick-out-of-hole", "b", "pick", "peg", ("pick the peg out of the hole", "pull the peg up out of the hole",
                                                "lift the peg out of its hole")),
    _t("reach", "a", "reach", "goal", ("reach the goal position", "move the gripper to the target",
                                       "bring the hand to the goal"), scene="reach"),
    _t("push-back", "a", "push", "puck", ("push the puck backwards to the goal", "slide the puck back to the target",
                                          "push the puck towards the robot onto the goal"), scene="push-back"),
    _t("push", "b", "push", "puck", ("push the puck to the goal", "slide the puck onto the target",
                                     "push the puck across the table to the goal"), scene="push"),
    _t("pick-place", "a", "pick", "puck", ("pick up the puck and place it at the goal",
                                           "lift the puck and put it on the target",
                                           "move the puck through the air to the goal"), scene="pick-place"),
    _t("plate-slide", "a", "push", "plate", ("slide the plate into the goal", "push the plate forward into the net",
                                             "slide the plate away into the goal area"), scene="plate"),
    _t("plate-slide-side", "b", "push", "plate", ("slide the plate sideways into the goal",
                                                  "push the plate to the side into the net",
                                                  "slide the plate sideways to the target"), scene="plate-side"),
    _t("plate-slide-back", "b", "push", "plate", ("slide the plate back out of the goal",
                                                  "pull the plate back towards the robot",
                                                  "slide the plate back from the net"), scene="plate-back"),
    _t("plate-slide-back-side", "a", "push", "plate", ("slide the plate back sideways out of the goal",
                                                       "pull the plate sideways out of the net",
                                                       "slide the plate back to the side"),
       scene="plate-back-side"),
    _t("peg-unplug-side", "a", "pick", "peg", ("unplug the peg from the side", "pull the peg sideways out of the hole",
                                               "take the peg out of the side hole"), scene="peg-side",
       opposite="peg-insert-side"),
    _t("soccer", "b", "push", "ball", ("kick the ball into the goal", "push the soccer ball into the net",
                                       "score a goal with the ball")),
    _t("stick-push", "a", "pick", "stick", ("use the stick to push the thermos", "grab the stick and push the bottle",
                                            "push the thermos forward with the stick"), scene="stick-push"),
    _t("stick-pull", "b", "pick", "stick", ("use the stick to pull the thermos", "grab the stick and pull the bottle",
                                            "pull the thermos back with the stick"), scene="stick-pull"),
    _t("push-wall", "a", "push", "puck", ("push the puck around the wall to the goal",
                                          "slide the puck past the wall onto the target",
                                          "push the puck to the goal behind the wall"), scene="push-wall"),
    _t("reach-wall", "b", "reach", "goal", ("reach the goal behind the wall",
                                            "move the gripper over the wall to the target",
                                            "bring the hand past the wall to the goal"), scene="reach-wall"),
    _t("shelf-place", "b", "pick", "block", ("put the block on the shelf", "place the block onto the shelf",
                                             "lift the block up onto the shelf")),
    _t("sweep-into", "b", "push", "block", ("sweep the block into the hole", "push the block into the hole",
                                            "slide the block into the hole in the table"), scene="sweep-into"),
    _t("sweep", "a", "push", "block", ("sweep the block off the table", "push the block off the edge of the table",
                                       "slide the block off the table"), scene="sweep"),
    _t("window-open", "b", "push", "window", ("open the window", "slide the window open", "push the window open"),
       scene="window", opposite="window-close"),
    _t("window-close", "a", "push", "window", ("close the window", "slide the window shut",
                                               "push the window closed"), scene="window", opposite="window-open"),
)

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}
"""The registry: task name -> spec, all 50 Meta-World v3 tasks."""

TASK_GROUPS: dict[str, tuple[str, ...]] = {
    "all": tuple(TASKS),
    "fold-a": tuple(n for n, s in TASKS.items() if s.fold == "a"),
    "fold-b": tuple(n for n, s in TASKS.items() if s.fold == "b"),
}
"""Named task sets accepted wherever a list of tasks is."""


def get_task(name: str) -> TaskSpec:
    """The spec of one task: a Meta-World task (``window-close`` or ``window-close-v3``) or a generated one
    (``proc:<seed>``, ``proc:<seed>:opposite``; see `sole.envs.procedural`)."""
    if name.startswith("proc:"):
        from sole.envs.procedural import task_spec

        return task_spec(name)
    key = name.removesuffix("-v3")
    if key not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}, or proc:<seed>")
    return TASKS[key]


def task_index(name: str) -> int:
    """A task's row in a dataset's task table: Meta-World's 50 in registry order, then generated tasks by seed
    (``proc:N`` -> 50 + 2N, its opposite 51 + 2N), so an index never depends on which tasks a dataset holds."""
    spec = get_task(name)
    if spec.fold != PROC_FOLD:
        return list(TASKS).index(spec.name)
    from sole.envs.procedural import parse

    seed, opposite = parse(spec.name)
    return len(TASKS) + 2 * seed + int(opposite)


def resolve_tasks(selection: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand ``all``, ``fold-a``, ``fold-b``, a range of generated tasks ``proc:<first>-<last>`` (both included)
    or a comma-separated/listed set of task names, validated."""
    items = selection.split(",") if isinstance(selection, str) else list(selection)
    names: list[str] = []
    for item in (i.strip() for i in items if i.strip()):
        group = TASK_GROUPS.get(item) or _proc_range(item)
        names.extend(group if group else (get_task(item).name,))
    if not names:
        raise ValueError(f"no tasks selected; give task names or one of {', '.join(TASK_GROUPS)}")
    return tuple(dict.fromkeys(names))


def _proc_range(item: str) -> tuple[str, ...]:
    """``proc:3-5`` -> (proc:3, proc:4, proc:5), each validated; () for anything that is not a range."""
    match = re.fullmatch(r"proc:(\d+)-(\d+)", item)
    if match is None:
        return ()
    first, last = int(match.group(1)), int(match.group(2))
    if last < first:
        raise ValueError(f"empty task range {item!r}: write proc:<first>-<last> with first <= last")
    return tuple(get_task(f"proc:{seed}").name for seed in range(first, last + 1))


def scene_goals(task: str) -> tuple[str, ...]:
    """Tasks sharing ``task``'s scene (itself first): one rollout can be labelled for all of their goals."""
    spec = get_task(task)
    if spec.fold == PROC_FOLD:  # a generated scene holds its task and, where it has one, the opposite
        return (spec.name,) + ((spec.opposite,) if spec.opposite else ())
    return (spec.name,) + tuple(n for n, s in TASKS.items() if s.scene == spec.scene and n != spec.name)
