"""`sole rl drqv2`: DrQ-v2 on pixels (external + wrist views) + proprio, rewarded by a reward source.

The paper-faithful path (SOLE-R1 trains DrQ-v2 on pixels). The agent sees the two rendered views, stacked over
the last ``frame_stack`` agent steps, and the robot's own state (hand position and gripper opening, obs[0:4]);
never object or goal positions. Actions are Meta-World's end-effector deltas + gripper. The agent follows
DrQ-v2 (Yarats et al. 2021): a shared conv encoder trained by the critic, random-shift augmentation, n-step
double-Q targets, a deterministic actor with scheduled exploration noise. Defaults are the paper's; ``tiny()``
is a CPU smoke preset. Episodes have a fixed length (the protocol's 100 agent steps), so the replay buffer
stores whole episodes as arrays and stacks frames when sampling. Each agent step renders its frames once: the
agent's observation and the reward's query read the same rendering (`sole.reward.wrappers.Sensors`).

A run folder (`sole.rl.runs`) holds config.json with the config hash, metrics.jsonl, success.png and result.json;
there is no checkpoint, so a rerun starts its folder over.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from rich.progress import Progress
from torch import nn

from sole.envs.sim import VIEWS
from sole.envs.tasks import get_task
from sole.models.base import Reasoner
from sole.reward.rewarder import RewardConfig, resolve_reward
from sole.reward.wrappers import PROPRIO, RewardVecEnv, make_vec_env
from sole.rl import runs

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""(stacked pixels (k*C, H, W), proprio) -> action."""


@dataclass(frozen=True)
class DrQConfig:
    task: str = "reach"
    """Meta-World task."""
    reward: RewardConfig = field(default_factory=lambda: RewardConfig(source="oracle-dense"))
    """The reward the agent gets (``--reward.source``, ``--reward.model``, ``--reward.scale``, ...)."""
    steps: int = 500_000
    """Agent steps to train."""
    seed: int = 0
    """Seed of networks, noise and layouts."""
    size: int = 64
    """Render size of each view."""
    frame_stack: int = 3
    """Agent steps of frames stacked per observation."""
    horizon: int = 100
    """Agent steps per episode."""
    seed_steps: int = 4_000
    """Uniform random actions before learning."""
    update_every: int = 2
    """Agent steps per update."""
    batch_size: int = 256
    """Minibatch size."""
    n_step: int = 3
    """Return horizon of the critic target."""
    gamma: float = 0.99
    """Discount."""
    lr: float = 1e-4
    """Adam learning rate."""
    feature_dim: int = 50
    """Width of the encoder's projection into actor and critic."""
    hidden: int = 1024
    """Hidden width of actor and critic MLPs."""
    tau: float = 0.01
    """Critic target Polyak rate."""
    std_start: float = 1.0
    """Exploration noise at the start of the schedule."""
    std_end: float = 0.1
    """Exploration noise at the end of the schedule."""
    std_steps: int = 500_000
    """Agent steps over which the noise decays linearly."""
    std_clip: float = 0.3
    """Clip of the target-policy smoothing noise."""
    buffer_episodes: int = 1_000
    """Replay capacity in episodes."""
    eval_every: int = 10_000
    """Agent steps between evaluations."""
    eval_episodes: int = 5
    """Episodes per evaluation."""
    device: str = "cpu"
    """Torch device (cuda on a GPU machine)."""
    threads: int = 1
    """Torch CPU threads."""
    out: str = "runs/drqv2"
    """Parent folder of run folders."""
    name: str = ""
    """Run folder name; default ``<task>-<reward>[-<model>]-s<seed>``."""

    UNHASHED: ClassVar[tuple[str, ...]] = ("steps", "out", "name", "device", "threads")
    """Fields left out of the config hash (`sole.rl.runs.config_hash`)."""

    @classmethod
    def tiny(cls) -> DrQConfig:
        """A CPU smoke preset: small nets, short schedule."""
        return cls(steps=3_000, seed_steps=500, batch_size=64, feature_dim=32, hidden=256, std_steps=3_000,
                   buffer_episodes=100, eval_every=1_000, eval_episodes=3, size=48)

    def run_dir(self) -> Path:
        return Path(self.out) / (self.name or runs.run_name(self.task, self.reward, self.seed))


# --- networks ---------------------------------------------------------------------------------------------------
def random_shift(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """DrQ augmentation: pad by replication and crop back at a random offset per sample. x: (B, C, H, W)."""
    b, _, h, w = x.shape
    x = F.pad(x, (pad,) * 4, mode="replicate")
    eps = 1.0 / (h + 2 * pad)
    base = torch.linspace(-1.0 + eps, 1.0 - eps, h + 2 * pad, device=x.device)[:h]
    grid = torch.stack(torch.meshgrid(base, base, indexing="xy"), dim=-1).unsqueeze(0).repeat(b, 1, 1, 1)
    shift = torch.randint(0, 2 * pad + 1, (b, 1, 1, 2), device=x.device) * (2.0 * eps)
    return F.grid_sample(x, grid + shift, padding_mode="zeros", align_corners=False)


class Encoder(nn.Module):
    """DrQ-v2's four 3x3 conv layers (first stride 2) over all stacked views' channels."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.convnet = nn.Sequential(nn.Conv2d(channels, 32, 3, stride=2), nn.ReLU(), nn.Conv2d(32, 32, 3),
                                     nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU())
        with torch.no_grad():
            self.repr_dim = self.convnet(torch.zeros(1, channels, size, size)).numel()

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.convnet(pixels / 255.0 - 0.5).flatten(1)  # (B, repr_dim)


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


class Actor(nn.Module):
    def __init__(self, repr_dim: int, n_proprio: int, n_act: int, cfg: DrQConfig):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, cfg.feature_dim), nn.LayerNorm(cfg.feature_dim), nn.Tanh())
        self.policy = mlp(cfg.feature_dim + n_proprio, cfg.hidden, n_act)

    def forward(self, h: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.policy(torch.cat([self.trunk(h), proprio], -1)))  # (B, A) action mean


class Critic(nn.Module):
    def __init__(self, repr_dim: int, n_proprio: int, n_act: int, cfg: DrQConfig):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(repr_dim, cfg.feature_dim), nn.LayerNorm(cfg.feature_dim), nn.Tanh())
        self.q1, self.q2 = (mlp(cfg.feature_dim + n_proprio + n_act, cfg.hidden, 1) for _ in range(2))

    def forward(self, h: torch.Tensor, proprio: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.trunk(h), proprio, a], -1)
        return self.q1(x), self.q2(x)


# --- replay -----------------------------------------------------------------------------------------------------
class EpisodeReplay:
    """Fixed-length episodes as arrays: frames (E, T+1, C, H, W) uint8, proprio, actions, rewards."""

    def __init__(self, cfg: DrQConfig, channels: int, n_proprio: int):
        e, t = cfg.buffer_episodes, cfg.horizon
        self.frames = np.zeros((e, t + 1, channels, cfg.size, cfg.size), np.uint8)
        self.proprio = np.zeros((e, t + 1, n_proprio), np.float32)
        self.actions = np.zeros((e, t, 4), np.float32)
        self.rewards = np.zeros((e, t), np.float32)
        self.cfg, self.n, self.i = cfg, 0, 0

    def add(self, frames: list[np.ndarray], proprio: list[np.ndarray], actions: list[np.ndarray],
            rewards: list[float]) -> None:
        self.frames[self.i], self.proprio[self.i] = np.stack(frames), np.stack(proprio)
        self.actions[self.i], self.rewards[self.i] = np.stack(actions), rewards
        self.i, self.n = (self.i + 1) % len(self.frames), min(self.n + 1, len(self.frames))

    def stacked(self, ep: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(B, k*C, H, W): frames t-k+1..t of each sample, the first frame repeated before an episode's start."""
        k = self.cfg.frame_stack
        idx = np.clip(t[:, None] - np.arange(k - 1, -1, -1)[None], 0, None)  # (B, k)
        x = self.frames[ep[:, None], idx]  # (B, k, C, H, W)
        return x.reshape(len(ep), -1, *x.shape[-2:])

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """n-step transitions; the time limit is not a terminal, so every target bootstraps."""
        cfg = self.cfg
        ep = rng.integers(0, self.n, batch)
        t = rng.integers(0, cfg.horizon - cfg.n_step + 1, batch)
        disc = cfg.gamma ** np.arange(cfg.n_step)
        ret = (self.rewards[ep[:, None], t[:, None] + np.arange(cfg.n_step)] * disc).sum(1)
        return {"obs": self.stacked(ep, t), "proprio": self.proprio[ep, t], "action": self.actions[ep, t],
                "ret": ret.astype(np.float32), "next_obs": self.stacked(ep, t + cfg.n_step),
                "next_proprio": self.proprio[ep, t + cfg.n_step]}


# --- agent ------------------------------------------------------------------------------------------------------
class DrQV2Agent:
    def __init__(self, cfg: DrQConfig, channels: int, n_proprio: int):
        self.cfg, self.dev = cfg, torch.device(cfg.device)
        self.encoder = Encoder(channels, cfg.size).to(self.dev)
        d = self.encoder.repr_dim
        self.actor = Actor(d, n_proprio, 4, cfg).to(self.dev)
        self.critic = Critic(d, n_proprio, 4, cfg).to(self.dev)
        self.critic_target = Critic(d, n_proprio, 4, cfg).to(self.dev)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.opt_enc = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr)
        self.opt_critic = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr)

    def std(self, step: int) -> float:
        frac = min(step / max(self.cfg.std_steps, 1), 1.0)
        return self.cfg.std_start + frac * (self.cfg.std_end - self.cfg.std_start)

    @torch.no_grad()
    def act(self, obs: np.ndarray, proprio: np.ndarray, step: int, explore: bool) -> np.ndarray:
        h = self.encoder(torch.as_tensor(obs[None], device=self.dev).float())
        mu = self.actor(h, torch.as_tensor(proprio[None], device=self.dev))[0]
        if explore:
            mu = (mu + self.std(step) * torch.randn_like(mu)).clamp(-1, 1)
        return mu.cpu().numpy()

    def _policy(self, h: torch.Tensor, proprio: torch.Tensor, std: float, clip: float | None) -> torch.Tensor:
        mu = self.actor(h, proprio)
        noise = std * torch.randn_like(mu)
        return (mu + (noise.clamp(-clip, clip) if clip else noise)).clamp(-1, 1)

    def update(self, batch: dict[str, np.ndarray], step: int) -> dict[str, float]:
        b = {k: torch.as_tensor(v, device=self.dev) for k, v in batch.items()}
        obs = self.encoder(random_shift(b["obs"].float()))
        with torch.no_grad():
            nxt = self.encoder(random_shift(b["next_obs"].float()))
        metrics = self.update_critic(obs, nxt, b, step)
        metrics |= self.update_actor(obs.detach(), b["proprio"], step)
        with torch.no_grad():
            for p, tp in zip(self.critic.parameters(), self.critic_target.parameters(), strict=True):
                tp.lerp_(p, self.cfg.tau)
        return metrics

    def update_critic(self, obs: torch.Tensor, nxt: torch.Tensor, b: dict[str, torch.Tensor],
                      step: int) -> dict[str, float]:
        with torch.no_grad():
            a_next = self._policy(nxt, b["next_proprio"], self.std(step), self.cfg.std_clip)
            target = b["ret"][:, None] + self.cfg.gamma ** self.cfg.n_step * torch.min(
                *self.critic_target(nxt, b["next_proprio"], a_next))
        q1, q2 = self.critic(obs, b["proprio"], b["action"])
        loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.opt_enc.zero_grad(set_to_none=True)
        self.opt_critic.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_critic.step()
        self.opt_enc.step()
        return {"train/critic_loss": loss.item(), "train/q": q1.mean().item()}

    def update_actor(self, obs: torch.Tensor, proprio: torch.Tensor, step: int) -> dict[str, float]:
        a = self._policy(obs, proprio, self.std(step), self.cfg.std_clip)
        loss = -torch.min(*self.critic(obs, proprio, a)).mean()
        self.opt_actor.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_actor.step()
        return {"train/actor_loss": loss.item()}


# --- loop -------------------------------------------------------------------------------------------------------
def run_episode(venv: RewardVecEnv, policy: Policy, stack: int) -> tuple[list, list, list, list]:
    """One episode of env 0; returns its frames and proprio (T+1 each), actions and rewards (T each)."""
    obs = venv.reset()
    frames, proprio, actions, rewards = [obs["pixels"][0]], [obs["proprio"][0]], [], []
    done = False
    while not done:
        idx = np.clip(np.arange(len(frames) - stack, len(frames)), 0, None)
        a = policy(np.concatenate([frames[i] for i in idx]), proprio[-1])
        obs, r, d, info = venv.step(a[None])
        done = bool(d[0])
        if done:  # the env has already reset: the episode's last observation is the terminal one
            obs = {k: v[None] for k, v in info[0]["terminal_observation"].items()}
        frames.append(obs["pixels"][0]), proprio.append(obs["proprio"][0])
        actions.append(a), rewards.append(float(r[0]))
    return frames, proprio, actions, rewards


def main(cfg: DrQConfig, reasoner: Reasoner | None = None) -> dict[str, float]:
    """Train DrQ-v2 and return the last evaluation's metrics; writes the run folder (config.json, metrics.jsonl,
    success.png, result.json). The task and reward are resolved once and checked before the first write;
    ``reasoner`` replaces the ``reward.model`` spec lookup (tests use a tiny one)."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    task = get_task(cfg.task)
    reward = resolve_reward(cfg.reward, task, reasoner)
    venv = make_vec_env(task, reward, seed=cfg.seed, size=cfg.size, horizon=cfg.horizon, pixels=True)
    eval_env = make_vec_env(task, reward, seed=cfg.seed + runs.EVAL_SEED_OFFSET, size=cfg.size,
                            horizon=cfg.horizon, pixels=True)
    run = cfg.run_dir()
    channels, stack = 3 * len(VIEWS), cfg.frame_stack
    agent = DrQV2Agent(cfg, channels * stack, PROPRIO.stop - PROPRIO.start)
    replay = EpisodeReplay(cfg, channels, PROPRIO.stop - PROPRIO.start)
    step, metrics, last = 0, {}, {}

    def explore(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        if step < cfg.seed_steps:
            return rng.uniform(-1, 1, 4).astype(np.float32)
        return agent.act(x, p, step, explore=True)

    def greedy(x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return agent.act(x, p, step, explore=False)

    try:
        runs.prepare_run(run, cfg, resume=False)
        with closing(runs.JSONLWriter(run / "metrics.jsonl")) as log, Progress() as bar:
            progress = bar.add_task(f"drqv2 {cfg.task} [{cfg.reward.label()}]", total=cfg.steps)
            while step < cfg.steps:
                ep = run_episode(venv, explore, stack)
                replay.add(*ep)
                for _ in range(cfg.horizon // cfg.update_every if step >= cfg.seed_steps else 0):
                    metrics = agent.update(replay.sample(cfg.batch_size, rng), step)
                step += cfg.horizon
                row = metrics | runs.episode_metrics(venv.finished[-1:], "rollout")
                if step % cfg.eval_every < cfg.horizon or step >= cfg.steps:
                    eval_env.finished.clear()
                    for _ in range(cfg.eval_episodes):
                        run_episode(eval_env, greedy, stack)
                    last = runs.episode_metrics(eval_env.finished, "eval")
                    row |= last
                log.write(row, dict.fromkeys(row), step)
                bar.update(progress, completed=step)
    finally:
        venv.close()
        eval_env.close()
    runs.plot_success(runs.read_metrics(run, "eval/success"), run / "success.png",
                      f"{cfg.task}: DrQ-v2 with reward {cfg.reward.label()} (seed {cfg.seed})")
    result = {"task": cfg.task, "reward": cfg.reward.label(), "seed": cfg.seed, "steps": step,
              "config_hash": runs.config_hash(cfg)} | last
    (run / "result.json").write_text(json.dumps(result, indent=2))
    return last


if __name__ == "__main__":
    import tyro

    main(tyro.cli(DrQConfig))
