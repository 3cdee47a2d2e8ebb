"""The off-policy learners `sole rl` can train: SB3's SAC (torch) and the JAX learners of `sbx-rl`.

`ALGOS` maps a learner name to its (module, class); every class is an SB3 `OffPolicyAlgorithm`, so the run loop,
replay buffer, checkpoints and logger are the same for all. The sbx learners need the ``fast`` extra
(``pip install 'sole[fast]'``: sbx-rl and jax); their XLA runtime is held to one thread unless ``XLA_FLAGS`` is
already set, as torch is held to ``--threads``.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

ALGOS: dict[str, tuple[str, str]] = {
    "sb3-sac": ("stable_baselines3", "SAC"),
    "sbx-sac": ("sbx", "SAC"),
    "sbx-tqc": ("sbx", "TQC"),
    "sbx-crossq": ("sbx", "CrossQ"),
}
"""Learner name -> (module, class)."""
ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def check_algo(name: str) -> None:
    if name not in ALGOS:
        raise ValueError(f"unknown learner {name!r}; valid: {', '.join(ALGOS)}")


def algo_class(name: str) -> type[OffPolicyAlgorithm]:
    """The learner's class, imported on first use (a missing ``fast`` extra fails here, naming it)."""
    check_algo(name)
    module, cls = ALGOS[name]
    if module == "sbx":
        os.environ.setdefault("XLA_FLAGS", ONE_THREAD)
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as err:
        raise ImportError(f"learner {name!r} needs the `fast` extra (pip install 'sole[fast]'): {err}") from err
