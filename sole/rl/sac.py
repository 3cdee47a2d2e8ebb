"""`sole rl`: SAC-family learners on Meta-World state observations, rewarded only by a reward source.

The agent sees the 39-d observation and the reward of `sole.reward.wrappers.RewardVecEnv`; the simulator's
success is read only through the evaluation channel, to log ``rollout/success`` and to evaluate the policy on
fresh layouts (``eval/success``, ``eval/hacking_rate``). Defaults follow CleanRL's / SB3's SAC for continuous
control (two 256-unit layers, Adam 3e-4, batch 256, tau 0.005, gamma 0.99, learned entropy), as used for
Meta-World state-SAC baselines, with one update every 2 agent steps (``train_freq``). ``--algo`` picks the learner
(`sole.rl.algos`): SB3's SAC (torch) or sbx's JAX SAC, TQC or CrossQ, all with the same loop, replay and
checkpoints.

`main` resolves the task and the reward once (the reasoner is loaded once per run) and checks everything before it
writes; the run folder is `sole.rl.runs`'s: config.json with the config hash, metrics.jsonl (+ tb/), a checkpoint
(policy zip, replay buffer) that a rerun with the same settings resumes from, success.png, videos/final-*.mp4
annotated with the reward's progress (and the reasoning, for a reasoner), policy.zip and result.json.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

from sole.envs.tasks import TaskSpec, get_task
from sole.models.base import Reasoner
from sole.reward.rewarder import Reward, RewardConfig, resolve_reward
from sole.reward.wrappers import RewardVecEnv, make_vec_env
from sole.rl import runs
from sole.rl.algos import algo_class, check_algo

console = Console()


@dataclass(frozen=True)
class SACConfig:
    task: str = "window-close"
    """Meta-World task (see `sole tasks`)."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """The reward the agent gets (``--reward.source``, ``--reward.model``, ``--reward.scale``, ...)."""
    steps: int = 100_000
    """Agent steps to train (each = 2 simulator steps); a rerun with more steps extends the run."""
    seed: int = 0
    """Seeds the policy, the replay sampling and the training layouts."""
    n_envs: int = 1
    """Parallel training envs (the reward is batched across them)."""
    processes: bool = False
    """Step and render the training envs in worker processes (one each, spawned) to use more cores; the reward
    stays one batched query in this process."""
    horizon: int = 100
    """Agent steps per episode (100 in the protocol; shorter only for quick tests)."""
    algo: str = "sb3-sac"
    """Learner: sb3-sac (SB3, torch), sbx-sac, sbx-tqc or sbx-crossq (sbx-rl, JAX; the ``fast`` extra)."""
    learning_starts: int = 2_000
    """Random-action steps before the first update."""
    batch_size: int = 256
    """SAC minibatch size."""
    lr: float = 3e-4
    """Adam learning rate of actor, critics and entropy coefficient."""
    gamma: float = 0.99
    """Discount."""
    tau: float = 0.005
    """Target-network Polyak rate."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer sizes of actor and critics."""
    train_freq: int = 2
    """Agent steps between updates (one gradient step each)."""
    buffer_size: int = 1_000_000
    """Replay capacity in transitions (at most ``steps``)."""
    eval_every: int = 5_000
    """Agent steps between evaluations on fresh layouts (0: only at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation (run as that many parallel envs)."""
    checkpoint_every: int = 10_000
    """Agent steps between checkpoints (policy + replay buffer) for resume."""
    videos: int = 2
    """Annotated videos of the final policy."""
    size: int = 64
    """Render size of each view in pixels."""
    out: str = "runs/rl"
    """Parent folder of run folders."""
    name: str = ""
    """Run folder name; default ``<task>-<reward>[-<model>]-s<seed>``."""
    resume: bool = True
    """Continue the run folder's checkpoint when the folder holds a run with the same settings (any other is
    refused); ``--no-resume`` deletes the folder and starts over."""
    threads: int = 1
    """Torch CPU threads."""
    device: str = "cpu"
    """Torch device of the policy (cpu, cuda, auto)."""
    progress: bool = True
    """Show a progress bar."""

    UNHASHED: ClassVar[tuple[str, ...]] = ("steps", "checkpoint_every", "videos", "out", "name", "resume", "threads",
                                           "device", "progress", "processes")
    """Fields a rerun may change and still resume the run (`sole.rl.runs.config_hash`)."""

    def run_dir(self) -> Path:
        return Path(self.out) / (self.name or runs.run_name(self.task, self.reward, self.seed))

    def validate(self) -> None:
        self.reward.validate()
        check_algo(self.algo)
        if self.steps < 1 or self.n_envs < 1 or self.eval_episodes < 1:
            raise ValueError(f"steps ({self.steps}), n_envs ({self.n_envs}) and eval_episodes "
                             f"({self.eval_episodes}) must be >= 1")


# --- videos -------------------------------------------------------------------------------------------------------
def save_videos(model: OffPolicyAlgorithm, cfg: SACConfig, task: TaskSpec, reward: Reward, run: Path) -> list[Path]:
    """Final-policy episodes as videos: both views, reward vs true progress, and the reasoning text."""
    if cfg.videos < 1:
        return []
    from sole.viz import annotated_frames, write_video

    venv = make_vec_env(task, reward.thinking(), n_envs=1, seed=cfg.seed + 2 * runs.EVAL_SEED_OFFSET, size=cfg.size,
                        horizon=cfg.horizon, record=True)
    try:
        records = runs.run_episodes(model, venv, cfg.videos)
    finally:
        venv.close()
    paths = []
    for k, rec in enumerate(records):
        frames = {v: np.stack(f) for v, f in rec.frames.items()}
        curves = {f"reward ({cfg.reward.source})": np.array(rec.reward_curve),
                  "true progress": np.array(rec.true_curve)}
        texts = rec.texts if reward.reasoner is not None else None
        title = f"{cfg.task} | {'success' if rec.success else 'failure'}"
        paths.append(write_video(run / "videos" / f"final-{k}.mp4", annotated_frames(frames, curves, texts, title)))
    return paths


# --- the training loop's callback -------------------------------------------------------------------------------
class RunCallback(BaseCallback):
    """Logs rollout ground truth, evaluates, checkpoints and shows progress at fixed agent-step intervals."""

    def __init__(self, cfg: SACConfig, run: Path, eval_env: RewardVecEnv):
        super().__init__()
        self.cfg, self.run, self.eval_env = cfg, run, eval_env
        self._seen = 0
        self.bar: Progress | None = None

    def _on_training_start(self) -> None:
        self._seen = len(self.training_env.finished)  # type: ignore[attr-defined]
        self._start_step, self._start_time = self.num_timesteps, time.perf_counter()
        if self.cfg.progress:
            self.bar = Progress(TextColumn(f"sac {self.cfg.task} [{self.cfg.reward.label()}]"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} steps {task.fields[info]}"),
                                TimeRemainingColumn(), console=console, transient=True)
            self.bar.start()
            self._task = self.bar.add_task("sac", total=self.cfg.steps, completed=self.num_timesteps, info="")

    def _on_step(self) -> bool:
        n, cfg = self.num_timesteps, self.cfg
        finished = self.training_env.finished  # type: ignore[attr-defined]
        if len(finished) > self._seen:  # ground truth of training episodes: logged, never fed to the agent
            for k, v in runs.episode_metrics(finished[self._seen:], "rollout").items():
                self.logger.record_mean(k, v)
            self._seen = len(finished)
        if cfg.eval_every and n % cfg.eval_every == 0:
            self.evaluate()
        if cfg.checkpoint_every and n % cfg.checkpoint_every == 0:
            save_checkpoint(self.model, self.run)  # type: ignore[arg-type]
        if self.bar is not None and n % 50 == 0:
            fps = (n - self._start_step) / max(time.perf_counter() - self._start_time, 1e-9)
            self.bar.update(self._task, completed=n, info=f"{fps:.0f} steps/s")
        return True

    def evaluate(self) -> dict[str, float]:
        records = runs.run_episodes(self.model, self.eval_env, self.cfg.eval_episodes)  # type: ignore[arg-type]
        metrics = runs.episode_metrics(records, "eval")
        for k, v in metrics.items():
            self.logger.record(k, v)
        self.logger.dump(self.num_timesteps)
        return metrics

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- model and checkpoints ----------------------------------------------------------------------------------------
def save_checkpoint(model: OffPolicyAlgorithm, run: Path) -> Path:
    """Policy + replay buffer at the model's step, published atomically (`sole.rl.runs.save_checkpoint`)."""

    def write(folder: Path) -> None:
        model.save(folder / "model.zip")
        model.save_replay_buffer(folder / "replay.pkl")

    return runs.save_checkpoint(run, model.num_timesteps, write)


def new_model(cfg: SACConfig, venv: RewardVecEnv) -> OffPolicyAlgorithm:
    cls = algo_class(cfg.algo)
    kwargs = dict(learning_rate=cfg.lr, buffer_size=min(cfg.buffer_size, cfg.steps),
                  learning_starts=cfg.learning_starts, batch_size=cfg.batch_size, tau=cfg.tau, gamma=cfg.gamma,
                  train_freq=cfg.train_freq, gradient_steps=1, policy_kwargs={"net_arch": list(cfg.hidden)},
                  seed=cfg.seed, device=cfg.device, verbose=0)
    accepted = inspect.signature(cls).parameters  # CrossQ has no target network, hence no tau
    return cls("MlpPolicy", venv, **{k: v for k, v in kwargs.items() if k in accepted})


def load_or_new(cfg: SACConfig, venv: RewardVecEnv, run: Path) -> OffPolicyAlgorithm:
    """The run's checkpoint when it has one, else a new model."""
    ckpt = runs.resume_checkpoint(run)
    if ckpt is None:
        return new_model(cfg, venv)
    folder, step = ckpt
    model = algo_class(cfg.algo).load(folder / "model.zip", env=venv, device=cfg.device)
    model.load_replay_buffer(folder / "replay.pkl")
    grow_replay(model, min(cfg.buffer_size, cfg.steps))
    console.print(f"resuming {run} from step {step}")
    return model


def grow_replay(model: OffPolicyAlgorithm, capacity: int) -> None:
    """Give a resumed run's replay buffer the capacity its (extended) step budget gives a new run, keeping its
    transitions: an extended run samples from the same buffer as one trained to the new budget at once."""
    old = model.replay_buffer
    assert isinstance(old, ReplayBuffer)
    if capacity // old.n_envs <= old.buffer_size:
        return
    new = ReplayBuffer(capacity, old.observation_space, old.action_space, device=old.device, n_envs=old.n_envs,
                       handle_timeout_termination=old.handle_timeout_termination)
    n = old.buffer_size if old.full else old.pos
    for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts"):
        getattr(new, name)[:n] = getattr(old, name)[:n]
    new.pos = n
    model.replay_buffer = new


def print_result(cfg: SACConfig, result: dict[str, float]) -> None:
    table = Table(title=f"sole rl: {cfg.task}, reward {cfg.reward.label()}, seed {cfg.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.items():
        table.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(table)


def main(cfg: SACConfig, reasoner: Reasoner | None = None) -> Path:
    """Train (or resume), evaluate, and write the run folder; returns its path.

    The task and the reward are resolved once here and everything is checked before the first write, so a failed
    command leaves no folder behind. ``reasoner`` replaces the ``reward.model`` spec lookup (tests use a tiny one).
    """
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    task = get_task(cfg.task)
    reward = resolve_reward(cfg.reward, task, reasoner)
    venv = make_vec_env(task, reward, cfg.n_envs, cfg.seed, cfg.size, horizon=cfg.horizon, processes=cfg.processes)
    eval_env = make_vec_env(task, reward, cfg.eval_episodes, cfg.seed + runs.EVAL_SEED_OFFSET, cfg.size,
                            horizon=cfg.horizon)
    run = cfg.run_dir()
    try:
        runs.prepare_run(run, cfg, cfg.resume)
        model = load_or_new(cfg, venv, run)
        # A resumed run draws new layouts rather than replaying the ones it already trained on.
        venv.seed(cfg.seed + model.num_timesteps)
        model.set_logger(runs.open_logger(run, model.num_timesteps))
        callback = RunCallback(cfg, run, eval_env)
        remaining = cfg.steps - model.num_timesteps
        if remaining > 0:
            model.learn(remaining, callback=callback, reset_num_timesteps=False, log_interval=10)
            save_checkpoint(model, run)
        rows = runs.read_metrics(run, "eval/success")
        if not rows or rows[-1]["step"] != model.num_timesteps:
            callback.init_callback(model)
            callback.evaluate()
        model.save(run / "policy.zip")
        videos = save_videos(model, cfg, task, reward, run)
        model.logger.close()
    finally:
        venv.close()
        eval_env.close()
    rows = runs.read_metrics(run, "eval/success")
    runs.plot_success(rows, run / "success.png",
                      f"{cfg.task}: {cfg.algo} with reward {cfg.reward.label()} (seed {cfg.seed})")
    last = rows[-1]
    result = {"task": cfg.task, "reward": cfg.reward.label(), "seed": cfg.seed, "steps": int(last["step"]),
              "config_hash": runs.config_hash(cfg)} | {k: last[k] for k in last if k.startswith("eval/")} | {
        "videos": [str(p) for p in videos]}
    (run / "result.json").write_text(json.dumps(result, indent=2))
    print_result(cfg, {k: v for k, v in result.items() if k != "videos"})
    return run
