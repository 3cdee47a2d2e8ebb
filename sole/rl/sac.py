"""`sole rl`: Stable-Baselines3 SAC on Meta-World state observations, rewarded only by a reward source.

The agent sees the 39-d observation and the reward of `sole.reward.wrappers.RewardVecEnv`; the simulator's
success is read only through the evaluation channel, to log ``rollout/success`` and to evaluate the policy on
fresh layouts (``eval/success``, ``eval/hacking_rate``). Defaults follow CleanRL's / SB3's SAC for continuous
control (two 256-unit layers, Adam 3e-4, batch 256, tau 0.005, gamma 0.99, learned entropy), as used for
Meta-World state-SAC baselines; ``train_freq`` 2 halves CPU time per step and still learned in our tests
(see docs/rl.md).

A run folder holds: config.json, metrics.jsonl (+ tb/ for TensorBoard), checkpoint/ (policy zip, replay buffer,
step: a rerun of the same command resumes from it), success.png, videos/final-*.mp4 annotated with the reward's
progress (and the reasoning, for a reasoner), and result.json.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter, Logger, TensorBoardOutputFormat

from sole.envs.tasks import get_task
from sole.models.base import Reasoner
from sole.reward.rewarder import RewardConfig
from sole.reward.wrappers import EpisodeRecord, RewardVecEnv, make_vec_env

console = Console()
EVAL_SEED_OFFSET = 10_000
"""Evaluation envs draw layouts from seeds never used in training."""


@dataclass(frozen=True)
class SACConfig:
    task: str = "window-close"
    """Meta-World task (see `sole tasks`)."""
    reward: str = "sole"
    """Reward source: sole, oracle-dense, oracle-sparse or zero."""
    model: str = ""
    """Reasoner spec for the sole reward; default the fold model that never saw the task."""
    reward_every: int = 1
    """Query the reward source every k agent steps, holding its estimate in between."""
    reward_mode: str = "progress"
    """Reward = progress or delta (its change per step)."""
    reward_scale: float = 10.0
    """Multiplies the reward: 10 puts progress in [0, 10] per step, the range of Meta-World's own dense reward
    that published SAC settings are tuned for (at scale 1 the entropy bonus swamps it; see docs/rl.md)."""
    steps: int = 100_000
    """Agent steps to train (each = 2 simulator steps)."""
    seed: int = 0
    """Seeds the policy, the replay sampling and the training layouts."""
    n_envs: int = 1
    """Parallel training envs (in one process; the reward is batched across them)."""
    horizon: int = 100
    """Agent steps per episode (100 in the protocol; shorter only for quick tests)."""
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
    """Replay capacity in transitions."""
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
    """Continue from the run folder's checkpoint when there is one."""
    threads: int = 1
    """Torch CPU threads."""
    device: str = "cpu"
    """Torch device of the policy (cpu, cuda, auto)."""
    progress: bool = True
    """Show a progress bar."""

    def reward_config(self, think: bool = False) -> RewardConfig:
        return RewardConfig(source=self.reward, model=self.model, every=self.reward_every,
                            mode=self.reward_mode, scale=self.reward_scale, think=think)  # type: ignore[arg-type]

    def reward_label(self) -> str:
        """The reward source, with the reasoner spec when one is named (``sole=compact``)."""
        return f"{self.reward}={self.model}" if self.model else self.reward

    def run_dir(self) -> Path:
        source = re.sub(r"[-=:/\\{}+*]+", "-", self.reward_label()).strip("-")  # a path or ensemble stays one folder
        return Path(self.out) / (self.name or f"{self.task}-{source}-s{self.seed}")

    def validate(self) -> None:
        get_task(self.task)
        self.reward_config().validate()
        if self.steps < 1 or self.n_envs < 1 or self.eval_episodes < 1:
            raise ValueError(f"steps ({self.steps}), n_envs ({self.n_envs}) and eval_episodes "
                             f"({self.eval_episodes}) must be >= 1")


# --- metrics ---------------------------------------------------------------------------------------------------
class JSONLWriter(KVWriter):
    """SB3 logger output: one JSON object per dump, appended (so a resumed run continues the same file)."""

    def __init__(self, path: Path):
        self.file = open(path, "a")  # noqa: SIM115 - closed by close()

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0) -> None:
        row = {"step": step} | {k: _plain(v) for k, v in key_values.items() if _plain(v) is not None}
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def _plain(v: Any) -> float | str | None:
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return v if isinstance(v, str) else None


def episode_metrics(records: list[EpisodeRecord], prefix: str) -> dict[str, float]:
    """Mean ground-truth and reward figures of finished episodes, under ``prefix/``."""
    return {
        f"{prefix}/success": float(np.mean([r.success for r in records])),
        f"{prefix}/ever_success": float(np.mean([r.ever_success for r in records])),
        f"{prefix}/hacking_rate": float(np.mean([r.hacked for r in records])),
        f"{prefix}/return": float(np.mean([r.ret for r in records])),
        f"{prefix}/true_progress": float(np.mean([r.true_progress for r in records])),
        f"{prefix}/reward_progress": float(np.mean([r.reward_progress for r in records])),
    }


def read_metrics(run: Path, key: str) -> list[dict[str, float]]:
    """Rows of a run's metrics.jsonl that hold ``key`` (e.g. ``eval/success``), one timeline.

    A run resumed from a checkpoint appends rows from the checkpoint's step on; the rows the interrupted run wrote
    after that checkpoint belong to an abandoned timeline and are dropped.
    """
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        return []
    out: list[dict[str, float]] = []
    for line in path.read_text().splitlines():
        row = json.loads(line) if line.strip() else {}
        if key not in row:
            continue
        while out and out[-1]["step"] >= row["step"]:
            out.pop()
        out.append(row)
    return out


# --- evaluation -------------------------------------------------------------------------------------------------
def run_episodes(model: SAC, venv: RewardVecEnv, episodes: int) -> list[EpisodeRecord]:
    """Roll the deterministic policy from a fresh reset until ``episodes`` episodes finished."""
    venv.finished.clear()
    obs = venv.reset()
    while len(venv.finished) < episodes:
        action, _ = model.predict(obs, deterministic=True)
        obs, *_ = venv.step(action)
    return venv.finished[:episodes]


def save_videos(model: SAC, cfg: SACConfig, run: Path, reasoner: Reasoner | None = None) -> list[Path]:
    """Final-policy episodes as videos: both views, reward vs true progress, and the reasoning text."""
    if cfg.videos < 1:
        return []
    from sole.viz import annotated_frames, write_video

    venv = make_vec_env(cfg.task, cfg.reward_config(think=True), n_envs=1, seed=cfg.seed + 2 * EVAL_SEED_OFFSET,
                        size=cfg.size, horizon=cfg.horizon, record=True, reasoner=reasoner)
    try:
        records = run_episodes(model, venv, cfg.videos)
    finally:
        venv.close()
    paths = []
    for k, rec in enumerate(records):
        frames = {v: np.stack(f) for v, f in rec.frames.items()}
        curves = {f"reward ({cfg.reward})": np.array(rec.reward_curve), "true progress": np.array(rec.true_curve)}
        texts = rec.texts if venv.rewarder.source.reasoner is not None else None
        title = f"{cfg.task} | {'success' if rec.success else 'failure'}"
        paths.append(write_video(run / "videos" / f"final-{k}.mp4", annotated_frames(frames, curves, texts, title)))
    return paths


def plot_success(rows: list[dict[str, float]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2), dpi=120)
    steps = [r["step"] for r in rows]
    ax.plot(steps, [r["eval/success"] for r in rows], marker="o", label="success (simulator)")
    ax.plot(steps, [r["eval/hacking_rate"] for r in rows], marker="x", ls="--", label="hacking rate")
    ax.set(xlabel="agent steps", ylabel="rate", ylim=(-0.05, 1.05), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


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
            self.bar = Progress(TextColumn(f"sac {self.cfg.task} [{self.cfg.reward}]"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} steps {task.fields[info]}"),
                                TimeRemainingColumn(), console=console, transient=True)
            self.bar.start()
            self._task = self.bar.add_task("sac", total=self.cfg.steps, completed=self.num_timesteps, info="")

    def _on_step(self) -> bool:
        n, cfg = self.num_timesteps, self.cfg
        finished = self.training_env.finished  # type: ignore[attr-defined]
        if len(finished) > self._seen:  # ground truth of training episodes: logged, never fed to the agent
            for k, v in episode_metrics(finished[self._seen:], "rollout").items():
                self.logger.record_mean(k, v)
            self._seen = len(finished)
        if cfg.eval_every and n % cfg.eval_every == 0:
            self.evaluate()
        if cfg.checkpoint_every and n % cfg.checkpoint_every == 0:
            save_checkpoint(self.model, self.run)
        if self.bar is not None and n % 50 == 0:
            fps = (n - self._start_step) / max(time.perf_counter() - self._start_time, 1e-9)
            self.bar.update(self._task, completed=n, info=f"{fps:.0f} steps/s")
        return True

    def evaluate(self) -> dict[str, float]:
        records = run_episodes(self.model, self.eval_env, self.cfg.eval_episodes)  # type: ignore[arg-type]
        metrics = episode_metrics(records, "eval")
        for k, v in metrics.items():
            self.logger.record(k, v)
        self.logger.dump(self.num_timesteps)
        return metrics

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- checkpoints ------------------------------------------------------------------------------------------------
def save_checkpoint(model: SAC, run: Path) -> Path:
    """Policy + replay buffer + step, written to a temp folder and swapped in, so a crash never leaves half."""
    tmp, final = run / "checkpoint.tmp", run / "checkpoint"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save(tmp / "model.zip")
    model.save_replay_buffer(tmp / "replay.pkl")
    (tmp / "step.json").write_text(json.dumps({"step": model.num_timesteps}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return final


def new_model(cfg: SACConfig, venv: RewardVecEnv) -> SAC:
    return SAC("MlpPolicy", venv, learning_rate=cfg.lr, buffer_size=min(cfg.buffer_size, cfg.steps),
               learning_starts=cfg.learning_starts, batch_size=cfg.batch_size, tau=cfg.tau, gamma=cfg.gamma,
               train_freq=cfg.train_freq, gradient_steps=1, policy_kwargs={"net_arch": list(cfg.hidden)},
               seed=cfg.seed, device=cfg.device, verbose=0)


def load_or_new(cfg: SACConfig, venv: RewardVecEnv, run: Path) -> SAC:
    ckpt = run / "checkpoint"
    if cfg.resume and (ckpt / "model.zip").exists():
        model = SAC.load(ckpt / "model.zip", env=venv, device=cfg.device)
        model.load_replay_buffer(ckpt / "replay.pkl")
        console.print(f"resuming {run} from step {model.num_timesteps}")
        return model
    return new_model(cfg, venv)


def load_run(run: str | Path, *, unfinished: bool = False) -> tuple[SACConfig, SAC]:
    """A `sole rl` run folder's training config and its final policy; with ``unfinished``, a run still training
    (or stopped) gives its last checkpoint's policy when it has no ``policy.zip`` yet."""
    run = Path(run)
    config = run / "config.json"
    if not config.exists():
        raise FileNotFoundError(f"{config} not found: not a `sole rl` run folder")
    known = SACConfig.__dataclass_fields__
    cfg = SACConfig(**{k: v for k, v in json.loads(config.read_text()).items() if k in known})
    paths = [run / "policy.zip", *([run / "checkpoint" / "model.zip"] if unfinished else [])]
    for path in paths:
        if path.exists():
            return cfg, SAC.load(path, device="cpu")
    raise FileNotFoundError(f"{' or '.join(map(str, paths))} not found: not a "
                            f"{'' if unfinished else 'finished '}`sole rl` run folder")


def make_logger(run: Path) -> Logger:
    return Logger(str(run), [JSONLWriter(run / "metrics.jsonl"), TensorBoardOutputFormat(str(run / "tb"))])


def print_result(cfg: SACConfig, result: dict[str, float]) -> None:
    table = Table(title=f"sole rl: {cfg.task}, reward {cfg.reward}, seed {cfg.seed}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in result.items():
        table.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    console.print(table)


def main(cfg: SACConfig, reasoner: Reasoner | None = None) -> Path:
    """Train (or resume), evaluate, and write the run folder; returns its path.

    ``reasoner`` replaces the ``model`` spec lookup of the sole reward (tests use a tiny one).
    """
    cfg.validate()
    torch.set_num_threads(cfg.threads)
    run = cfg.run_dir()
    if not cfg.resume:
        shutil.rmtree(run, ignore_errors=True)
    run.mkdir(parents=True, exist_ok=True)
    (run / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    venv = make_vec_env(cfg.task, cfg.reward_config(), cfg.n_envs, cfg.seed, cfg.size, horizon=cfg.horizon,
                        reasoner=reasoner)
    eval_env = make_vec_env(cfg.task, cfg.reward_config(), cfg.eval_episodes, cfg.seed + EVAL_SEED_OFFSET,
                            cfg.size, horizon=cfg.horizon, reasoner=reasoner)
    try:
        model = load_or_new(cfg, venv, run)
        # A resumed run draws new layouts rather than replaying the ones it already trained on.
        venv.seed(cfg.seed + model.num_timesteps)
        model.set_logger(make_logger(run))
        callback = RunCallback(cfg, run, eval_env)
        remaining = cfg.steps - model.num_timesteps
        if remaining > 0:
            model.learn(remaining, callback=callback, reset_num_timesteps=False, log_interval=10)
            save_checkpoint(model, run)
        rows = read_metrics(run, "eval/success")
        if not rows or rows[-1]["step"] != model.num_timesteps:
            callback.init_callback(model)
            callback.evaluate()
        model.save(run / "policy.zip")
        videos = save_videos(model, cfg, run, reasoner)
        model.logger.close()
    finally:
        venv.close()
        eval_env.close()
    rows = read_metrics(run, "eval/success")
    plot_success(rows, run / "success.png", f"{cfg.task}: SAC with reward {cfg.reward} (seed {cfg.seed})")
    last = rows[-1]
    result = {"task": cfg.task, "reward": cfg.reward, "seed": cfg.seed, "steps": int(last["step"])} | {
        k: last[k] for k in last if k.startswith("eval/")} | {"videos": [str(p) for p in videos]}
    (run / "result.json").write_text(json.dumps(result, indent=2))
    print_result(cfg, {k: v for k, v in result.items() if k != "videos"})
    return run
