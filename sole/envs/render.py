"""`sole render`: a video of one expert rollout (both views side by side, the progress label drawn under them) and
a PNG contact sheet of its frames at their true size, and with ``--per-view`` one raw video per view (what
`sole score` reads); or, with ``--compare-cameras``, one PNG comparing cameras.

The rollout follows the RL protocol (agent steps with action repeat), so the video has one frame per agent step:
exactly what a reward model sees. Views are upscaled only for people; the sheet keeps the native pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sole.envs.check import rollout
from sole.envs.sim import EnvConfig, TaskEnv
from sole.envs.tasks import resolve_tasks


@dataclass(frozen=True)
class RenderConfig:
    task: str = "window-close"
    """Task to roll out with its scripted expert."""
    out: str = ""
    """Video path (default ``out/render/<task>.mp4``); the contact sheet is written beside it as .png."""
    seed: int = 0
    """Layout seed."""
    size: int = 64
    """Render size of each view in pixels (what the reward model sees)."""
    external: str = "workspace"
    """External camera."""
    wrist: str = "gripperPOV"
    """Wrist camera."""
    agent_steps: int = 100
    """Agent steps (frames after the first)."""
    action_repeat: int = 2
    """Env steps per agent step."""
    fps: int = 10
    """Video frame rate."""
    per_view: bool = False
    """Also write one raw video per view beside the composite, ``<out>.external.mp4`` and ``<out>.wrist.mp4``: the
    frames the reward model sees, exactly what `sole score --video/--wrist` reads (the composite, with its curve
    drawn in, is for people)."""
    compare_cameras: str = ""
    """Comma-separated cameras: instead of a video, write to ``out`` (as .png) one sheet with a row per task of
    ``compare_tasks`` and, per camera, the start, middle and end of an expert rollout."""
    compare_tasks: str = "pick-place,button-press,window-close,drawer-open"
    """Tasks of the camera comparison."""
    procedural_sheet: int = 0
    """Instead of a video, write to ``out`` (as .png) a sheet of this many generated tasks drawn at random (from
    ``seed``), each as the external view at the start beside the first solved frame of its expert."""


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    return np.asarray(Image.fromarray(img).resize((img.shape[1] * factor, img.shape[0] * factor), Image.NEAREST))


def expert_video(cfg: EnvConfig, agent_steps: int, repeat: int) -> tuple[dict[str, np.ndarray], np.ndarray, int | None]:
    """Frames per view (T, H, W, 3), progress (T,) and the first successful frame of one expert rollout."""
    env = TaskEnv(cfg)
    frames: dict[str, list[np.ndarray]] = {}
    try:
        labels = rollout(env, lambda k: env.expert_action(), agent_steps, repeat, frames=frames)
    finally:
        env.close()
    first = next((i for i, p in enumerate(labels) if p.success), None)
    return {v: np.stack(f) for v, f in frames.items()}, np.array([p.progress for p in labels]), first


def contact_sheet(frames: dict[str, np.ndarray], n: int = 8, factor: int = 2) -> np.ndarray:
    """``n`` evenly spaced frames left to right; external view above the wrist view; upscaled by ``factor``."""
    stacked = np.concatenate([frames[v] for v in frames], axis=1)  # (T, views*H, W, 3)
    idx = np.linspace(0, len(stacked) - 1, n).round().astype(int)
    return upscale(np.concatenate([stacked[i] for i in idx], axis=1), factor)


def camera_sheet(cfg: RenderConfig) -> Path:
    """Rows: tasks; per camera, the start, middle and end of an expert rollout at ``cfg.size`` px, upscaled 2x."""
    cameras = [c.strip() for c in cfg.compare_cameras.split(",") if c.strip()]
    rows = []
    for task in resolve_tasks(cfg.compare_tasks):
        tiles = []
        for cam in cameras:
            env_cfg = EnvConfig(task=task, size=cfg.size, seed=cfg.seed, external=cam, wrist=cfg.wrist)
            env_cfg.validate()
            frames, _, _ = expert_video(env_cfg, cfg.agent_steps, cfg.action_repeat)
            ext = frames["external"]
            tiles.append(np.concatenate([ext[0], ext[len(ext) // 2], ext[-1]], axis=0))
        rows.append(np.concatenate(tiles, axis=1))
    out = Path(cfg.out or "out/render/cameras.png").with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(upscale(np.concatenate(rows, axis=0), 2)).save(out)
    return out


def procedural_sheet(cfg: RenderConfig, columns: int = 8) -> Path:
    """Tiles of generated tasks: start | solved (or last) external frame, `columns` tasks per row, upscaled 2x."""
    seeds = np.random.default_rng(cfg.seed).choice(100_000, cfg.procedural_sheet, replace=False)
    tiles = []
    for seed in seeds:
        env = TaskEnv(EnvConfig(task=f"proc:{seed}", size=cfg.size, seed=0, external=cfg.external))
        try:
            env.reset()
            start = env.render_view("external")
            for _ in range(cfg.agent_steps * cfg.action_repeat):
                env.step(env.expert_action())
                if env.privileged().success:
                    break
            tiles.append(np.concatenate([start, env.render_view("external")], axis=1))
        finally:
            env.close()
    pad = np.full((cfg.size, 4, 3), 255, np.uint8)
    rows = [np.concatenate([np.concatenate([t, pad], axis=1) for t in tiles[i:i + columns]], axis=1)
            for i in range(0, len(tiles), columns)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    out = Path(cfg.out or "out/render/procedural.png").with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(upscale(np.concatenate(rows, axis=0), 2)).save(out)
    return out


def main(cfg: RenderConfig) -> Path:
    from sole import viz

    if cfg.compare_cameras:
        return camera_sheet(cfg)
    if cfg.procedural_sheet:
        return procedural_sheet(cfg)
    env_cfg = EnvConfig(task=cfg.task, size=cfg.size, seed=cfg.seed, external=cfg.external, wrist=cfg.wrist)
    spec = env_cfg.validate()
    frames, progress, first = expert_video(env_cfg, cfg.agent_steps, cfg.action_repeat)
    solved = f"solved at frame {first}" if first is not None else "not solved"
    title = f"{spec.name}: {spec.goals[0]} (expert, seed {cfg.seed}, {solved})"
    composed = viz.annotated_frames(frames, {"progress": progress}, title=title)
    video = viz.write_video(cfg.out or f"out/render/{spec.name}.mp4", composed, fps=cfg.fps)
    Image.fromarray(contact_sheet(frames)).save(video.with_suffix(".png"))
    views = [viz.write_video(video.with_suffix(f".{v}.mp4"), f, fps=cfg.fps) for v, f in frames.items()
             if cfg.per_view]
    print(f"wrote {', '.join(map(str, [video, video.with_suffix('.png'), *views]))} ({len(progress)} frames, "
          f"{solved})")
    return video
