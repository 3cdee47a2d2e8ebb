"""Benchmark task suites and the published success figures they are compared with: data, in one place.

`SUITES` names the task sets of the papers `sole benchmark rl` compares with. `PUBLISHED` holds each published
mean success on a suite with its protocol and source; every figure is a set mean (no per-task figures are
quoted), read at 100k agent steps unless ``steps`` says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from sole.envs.tasks import resolve_tasks

SUITES: dict[str, tuple[str, ...]] = {
    "rewind8": ("window-close", "reach-wall", "faucet-close", "coffee-button", "button-press-wall", "door-lock",
                "handle-press-side", "sweep-into"),
    "sole17": ("faucet-open", "faucet-close", "window-open", "window-close", "plate-slide", "drawer-close",
               "drawer-open", "door-close", "door-open", "button-press", "handle-press", "handle-pull", "soccer",
               "lever-pull", "coffee-button", "handle-press-side", "coffee-push"),
    "all50": resolve_tasks("all"),
}
"""Suite name -> tasks: ReWiND's eight unseen Meta-World tasks, SOLE-R1's seventeen, all fifty."""


@dataclass(frozen=True)
class Published:
    """One published mean success on a suite."""

    suite: str
    method: str
    """The method and its reward."""
    success: float
    """Mean success over the suite's tasks, in [0, 1]."""
    protocol: str
    """Observation, learner, steps and seeds, as far as the source states them."""
    source: str
    steps: int = 100_000
    """Agent steps at which the figure is read."""


_SAC = "state SAC, Meta-World's dense reward, 100 agent steps x action repeat 2, 3 seeds"
_TDMPC2 = "TD-MPC2's published per-task result files (Hansen et al., ICLR 2024), its SAC and TD-MPC2 rows"
PUBLISHED: tuple[Published, ...] = (
    Published("rewind8", "SAC, ground-truth dense reward", 0.68, _SAC, _TDMPC2),
    Published("rewind8", "SAC, ground-truth dense reward", 0.88, _SAC, _TDMPC2, steps=500_000),
    Published("rewind8", "ReWiND", 0.79, "pixels and state, with demonstrations and offline pre-training",
              "ReWiND (Zhang et al., 2025), its Meta-World results"),
    Published("sole17", "SAC, ground-truth dense reward", 0.59, _SAC, _TDMPC2),
    Published("sole17", "SAC, ground-truth dense reward", 0.70, _SAC, _TDMPC2, steps=500_000),
    Published("sole17", "SOLE-R1 reward", 0.48, "pixel DrQ-v2, zero-shot reward queried about once a second",
              "SOLE-R1 paper and project page"),
    Published("sole17", "GPT-5 as the reward", 0.28, "pixel DrQ-v2, zero-shot", "SOLE-R1 paper"),
    Published("all50", "SAC, ground-truth dense reward", 0.31, _SAC, _TDMPC2),
    Published("all50", "SAC, ground-truth dense reward", 0.54, _SAC, _TDMPC2, steps=500_000),
    Published("all50", "TD-MPC2, ground-truth dense reward", 0.68, "state TD-MPC2, 100 agent steps x action "
              "repeat 2, 3 seeds", _TDMPC2),
)
"""Published mean successes, each with its protocol and source."""


def resolve_suite(suite: str) -> tuple[str, ...]:
    """A suite's tasks, or a comma-separated task list (validated)."""
    return SUITES.get(suite) or resolve_tasks(suite)


def published_for(suite: str) -> list[Published]:
    return [p for p in PUBLISHED if p.suite == suite]
