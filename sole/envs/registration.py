"""Gymnasium ids for the tasks: ``gym.make("sole/window-close")`` builds the task's `TaskEnv`.

`register` runs on ``import sole.envs`` and adds ``sole/<task>`` for every task in `TASKS`; calling it again adds
nothing twice. Other names `get_task` serves (a generated ``proc:<seed>`` task, say) are registered by passing them:
``register("proc:123")`` adds ``sole/proc-123`` (``:`` is not part of a gymnasium id). The id only records the task
name; the task itself is resolved when the env is made, so registering a name does no work.
"""

from __future__ import annotations

import gymnasium as gym

from sole.envs.tasks import TASKS

NAMESPACE = "sole"
ENTRY_POINT = "sole.envs.sim:make_env"


def env_id(task: str) -> str:
    """The gymnasium id of a task name: ``window-close`` -> ``sole/window-close``, ``proc:123`` -> ``sole/proc-123``."""
    return f"{NAMESPACE}/{task.removesuffix('-v3').replace(':', '-')}"


def register(*tasks: str) -> tuple[str, ...]:
    """Register ``sole/<task>`` for ``tasks`` (default: every task in `TASKS`), skipping ids already there; returns
    the ids. ``gym.make(id, size=..., seed=..., render_mode=...)`` passes its keywords on to `make_env`."""
    ids = []
    for task in tasks or tuple(TASKS):
        ids.append(env_id(task))
        if ids[-1] not in gym.registry:
            gym.register(id=ids[-1], entry_point=ENTRY_POINT, kwargs={"task": task})
    return tuple(ids)
