"""Meta-World tasks: specs, folds, rendered envs, progress labels and facts.

Importing it registers every task with gymnasium (`sole.envs.registration`): ``gym.make("sole/window-close")``.
"""

from sole.envs.progress import Facts, Privileged
from sole.envs.registration import env_id, register
from sole.envs.sim import VIEWS, EnvConfig, TaskEnv, make_env
from sole.envs.tasks import TASK_GROUPS, TASKS, TaskSpec, get_task, resolve_tasks, scene_goals

__all__ = ["Facts", "Privileged", "VIEWS", "EnvConfig", "TaskEnv", "make_env", "TASK_GROUPS", "TASKS", "TaskSpec",
           "get_task", "resolve_tasks", "scene_goals", "env_id", "register"]

register()
