"""`sole rl mine`: labelled episodes of the states trained RL policies reach, for hardening a reward model.

Scripted look-alikes (hover, near-miss, look-away...) only cover the exploits someone thought of; a policy trained
on a learned reward finds its own. This command rolls out the final policy of each given SAC run folder on fresh
layouts, under the RL protocol (one frame per agent step, each action held for ``FRAME_EVERY`` env steps), and
labels every frame with the simulator's truth like any synthesized episode, so the states a policy found can be
trained on (``sole train sft --data.root <synth>/train,<out>/train``) and measured
(``sole eval reward --data <out>/eval``). Episodes are of kind ``policy``; ``meta`` names the run and whether the
actions were sampled or the policy's mean.

Writes ``<out>/train`` and ``<out>/eval`` (seeds of the two never overlap, nor those of `sole synth` with another
``--seed``), one shard per run and split, and ``<out>/READY.json``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

from sole.data import store
from sole.data.build import SEED_STRIDE, SPLIT_OFFSET
from sole.envs.sim import VIEWS, TaskEnv, make_env
from sole.rl.runs import load_policy
from sole.synth.episode import Episode
from sole.synth.rollouts import ENV_STEPS, FRAME_EVERY, N_FRAMES, Policy, record, to_episode

console = Console()

KIND = "policy"


@dataclass(frozen=True)
class MineConfig:
    """Roll out trained SAC policies and label what they do (train and eval splits)."""

    runs: tuple[str, ...]
    """SAC run folders (`sole rl` output: config.json and policy.zip)."""
    out: str = "data/mined"
    """Output folder; the splits go to <out>/train and <out>/eval."""
    episodes: int = 20
    """Training episodes per run (0: no train split, e.g. to mine a held-out task's exploit for evaluation only)."""
    eval_episodes: int = 5
    """Evaluation episodes per run (0: no eval split)."""
    sampled: float = 0.5
    """Share of episodes whose actions are sampled from the policy (the rest act on its mean), so the data covers
    the neighbourhood of the exploit as well as the exploit."""
    seed: int = 1
    """Layout seeds are seed x 1,000,000 + split offset + episode index; keep it apart from `sole synth`'s seed."""
    size: int = 64
    """Render size of each view in pixels."""
    views: tuple[str, ...] = VIEWS
    """Views to record (see `sole synth --views`)."""


def policy_actions(env: TaskEnv, model: Any, deterministic: bool) -> Policy:
    """Env step -> action: the policy reads the state observation every ``FRAME_EVERY`` env steps (its action
    repeat) and the action is held in between."""
    held = {"action": np.zeros(4)}

    def policy(i: int) -> np.ndarray:
        if i % FRAME_EVERY == 0:
            held["action"], _ = model.predict(env.observation(), deterministic=deterministic)
        return held["action"]
    return policy


def mine_run(run: str, task: str, model: Any, split: str, n: int, first_index: int,
             cfg: MineConfig) -> list[Episode]:
    env = make_env(task, size=cfg.size, views=cfg.views)
    rng = np.random.default_rng(cfg.seed)
    episodes = []
    try:
        for index in range(first_index, first_index + n):
            seed = cfg.seed * SEED_STRIDE + SPLIT_OFFSET[split] + index
            deterministic = bool(rng.random() >= cfg.sampled)
            model.set_random_seed(seed)
            env.reset(seed=seed)
            rec = record(env, policy_actions(env, model, deterministic), ENV_STEPS, FRAME_EVERY)
            episodes.append(to_episode(task, KIND, seed, rec, index, {"run": run, "deterministic": deterministic}))
    finally:
        env.close()
    return episodes


def mine_split(cfg: MineConfig, split: str, per_run: int, policies: list[tuple[str, str, Any]]) -> dict[str, Any]:
    root = Path(cfg.out) / split
    root.mkdir(parents=True, exist_ok=True)
    start, manifests = time.perf_counter(), []
    with Progress(console=console) as bar:
        progress = bar.add_task(f"mine {split}", total=len(cfg.runs))
        for shard, (run, task, model) in enumerate(policies):
            episodes = mine_run(run, task, model, split, per_run, shard * per_run, cfg)
            manifests.append(store.write_shard(root, shard, episodes, [ep.index * N_FRAMES for ep in episodes]))
            bar.advance(progress)
    store.write_meta(root, manifests, cfg.size)
    return {"path": str(root), "episodes": sum(len(m["episodes"]) for m in manifests),
            "seconds": round(time.perf_counter() - start, 1), "hash": store.content_hash(root)}


def main(cfg: MineConfig) -> dict[str, Any]:
    if (not cfg.runs or min(cfg.episodes, cfg.eval_episodes) < 0 or cfg.episodes + cfg.eval_episodes < 1
            or not 0.0 <= cfg.sampled <= 1.0):
        raise ValueError("need at least one run, episodes and eval_episodes >= 0 with one of them >= 1, and "
                         f"0 <= sampled <= 1; got {len(cfg.runs)} runs, {cfg.episodes}, {cfg.eval_episodes}, "
                         f"{cfg.sampled}")
    # loaded once: a bad folder fails before any rollout
    loaded = [load_policy(run) for run in cfg.runs]
    policies = [(run, train["task"], model) for run, (train, model) in zip(cfg.runs, loaded, strict=True)]
    (Path(cfg.out) / "READY.json").unlink(missing_ok=True)
    splits = {split: n for split, n in (("train", cfg.episodes), ("eval", cfg.eval_episodes)) if n}
    result = {split: mine_split(cfg, split, n, policies) for split, n in splits.items()}
    store.write_json(Path(cfg.out) / "READY.json", {"config": asdict(cfg), **result})
    for split, r in result.items():
        console.print(f"{split}: {r['episodes']} episodes in {r['seconds']} s -> {r['path']}")
    return result
