"""`sole synth`: build a training set and a separately seeded evaluation set of labelled rollouts.

The work is planned up front (`plan`): for each split, task and kind, the episode indices and seeds, cut into
shards of at most ``shard_size`` episodes of one task. Seeds depend only on the config seed, the split and the
episode index, so the content is the same whatever the number of workers or the order shards finish in; train
and eval seeds are disjoint ranges, so evaluation layouts are never seen in training. Shards are written
atomically (`sole.data.store`); a rerun skips finished shards, redoes unfinished or damaged ones, and so a run
killed at any point and rerun ends with the same content as an uninterrupted run.

Each split goes to ``<out>/<split>/`` (a LeRobot v3-style dataset); when both are complete, ``<out>/READY.json``
records their episode counts and content hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sole.data import store
from sole.envs.sim import VIEWS, check_views
from sole.envs.tasks import resolve_tasks
from sole.synth.rollouts import ENV_STEPS, EVAL_KINDS, FRAME_EVERY, KINDS, check_kinds

console = Console()

DEFAULT_MIX = ("expert=3,noisy=2,pause=1,partial=2,undo=2,failure=2,hover=2,near-miss=2,frozen=1,occluded=1,"
               "reversed=1")
SPLITS = ("train", "eval")
SEED_STRIDE = 1_000_000
"""Episode seed = config seed x SEED_STRIDE + split offset + episode index."""
SPLIT_OFFSET = {"train": 0, "eval": SEED_STRIDE // 2}


@dataclass(frozen=True)
class SynthConfig:
    """Synthesize labelled rollouts (train and eval splits) as LeRobot-style datasets."""

    tasks: str = "all"
    """Tasks: all, fold-a, fold-b or a comma-separated list of task names."""
    out: str = "data/synth"
    """Output folder; the splits go to <out>/train and <out>/eval."""
    seed: int = 0
    """Seeds every layout and random draw; the same config and seed give the same content."""
    mix: str = DEFAULT_MIX
    """Training episodes per task and kind, as kind=count pairs (19 per task by default: 950 for all 50 tasks,
    ~13 minutes with 2 workers)."""
    eval_per_kind: int = 1
    """Evaluation episodes per task and kind (0: no eval split)."""
    shard_size: int = 12
    """Episodes per shard (one task per shard); a shard is the unit of atomic writes and of resume."""
    workers: int = 2
    """Worker processes (spawn); 1 runs in this process."""
    size: int = 64
    """Render size of each view in pixels."""
    views: tuple[str, ...] = VIEWS
    """Views to record: external, wrist, and ``scene`` (the external camera without the robot, for reward models
    that must not read the arm)."""
    env_steps: int = ENV_STEPS
    """Env steps per episode (the RL protocol's 200 gives 101 frames); fewer only for quick tests."""
    ray: bool = False
    """Run the shards as Ray tasks instead of a local process pool (same output)."""
    ray_address: str | None = None
    """Ray cluster to join (e.g. auto); default: start a local Ray with --workers CPUs."""
    hf: bool = False
    """Also export, per split, SOLE-R1 records (subsampled, own goal and one other goal per episode) to
    <out>/hf/progress and foundation QA (temporal on every episode, spatial on a rollout per task) to <out>/hf/qa,
    as HF datasets folders for TRL."""


@dataclass(frozen=True)
class Job:
    split: str
    shard: int
    task: str
    size: int
    env_steps: int
    episodes: tuple[tuple[int, str, int], ...]
    """(index, kind, seed) of each episode."""
    views: tuple[str, ...] = VIEWS


def parse_mix(mix: str) -> dict[str, int]:
    """``"expert=4,noisy=2"`` -> {"expert": 4, "noisy": 2}, validated."""
    counts: dict[str, int] = {}
    for item in (i.strip() for i in mix.split(",") if i.strip()):
        kind, sep, n = item.partition("=")
        if not sep or not n.strip().isdigit():
            raise ValueError(f"bad mix entry {item!r}; write kind=count pairs, e.g. expert=4,noisy=2")
        counts[check_kinds([kind.strip()])[0]] = int(n)
    if not any(counts.values()):
        raise ValueError(f"mix {mix!r} asks for no episodes; valid kinds: {', '.join(KINDS)}")
    return counts


def plan(cfg: SynthConfig, split: str) -> list[Job]:
    """The shards of one split, in index order."""
    per_kind = parse_mix(cfg.mix) if split == "train" else {k: cfg.eval_per_kind for k in EVAL_KINDS}
    views = check_views(cfg.views)
    jobs: list[Job] = []
    index = 0
    for task in resolve_tasks(cfg.tasks):
        eps = []
        for kind, n in per_kind.items():
            for _ in range(n):
                eps.append((index, kind, cfg.seed * SEED_STRIDE + SPLIT_OFFSET[split] + index))
                index += 1
        for i in range(0, len(eps), cfg.shard_size):
            jobs.append(Job(split, len(jobs), task, cfg.size, cfg.env_steps, tuple(eps[i:i + cfg.shard_size]),
                            views))
    if index >= SEED_STRIDE // 2:
        raise ValueError(f"{index} episodes in one split is more than the {SEED_STRIDE // 2} seeds reserved for it")
    return jobs


# --- workers ------------------------------------------------------------------------------------------------------
_TICKS: Any = None


def _init_worker(ticks: Any) -> None:
    global _TICKS
    _TICKS = ticks


def run_job(root: str, job: Job) -> dict[str, Any]:
    """Roll out and write one shard; ticks the progress queue after every episode."""
    from sole.envs.sim import make_env
    from sole.synth.rollouts import rollout

    env = make_env(job.task, size=job.size, views=job.views)
    try:
        episodes = []
        for index, kind, seed in job.episodes:
            episodes.append(rollout(env, kind, seed, index, job.env_steps))
            if _TICKS is not None:
                _TICKS.put(1)
    finally:
        env.close()
    n_frames = job.env_steps // FRAME_EVERY + 1
    return store.write_shard(root, job.shard, episodes, [index * n_frames for index, _, _ in job.episodes])


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]} ep/s"), TimeElapsedColumn(), TextColumn("eta"),
                    TimeRemainingColumn(), console=console)


Advance = Callable[[int], None]
"""Reports n more episodes done to the progress bar."""


def _run_inline(root: Path, jobs: list[Job], cfg: SynthConfig, advance: Advance) -> None:
    global _TICKS
    _TICKS = None
    for job in jobs:
        run_job(str(root), job)
        advance(len(job.episodes))


def _run_pool(root: Path, jobs: list[Job], cfg: SynthConfig, advance: Advance) -> None:
    """A spawn pool of ``cfg.workers`` processes, ticking the bar per episode through a queue."""
    import multiprocessing as mp

    os.environ["LP_NUM_THREADS"] = "1"  # inherited by the spawned workers: one software-GL thread each
    ctx = mp.get_context("spawn")
    ticks = ctx.Manager().Queue()
    with ctx.Pool(cfg.workers, initializer=_init_worker, initargs=(ticks,)) as pool:
        pending = [pool.apply_async(run_job, (str(root), job)) for job in jobs]
        while pending:
            while not ticks.empty():
                advance(ticks.get())
            for result in [r for r in pending if r.ready()]:
                result.get()  # re-raises a worker's error here
                pending.remove(result)
            time.sleep(0.1)
        while not ticks.empty():
            advance(ticks.get())


def _run_ray(root: Path, jobs: list[Job], cfg: SynthConfig, advance: Advance) -> None:
    """One Ray task per shard (1 CPU each) on a local Ray of ``cfg.workers`` CPUs, or on the cluster at
    ``cfg.ray_address``, whose nodes must see ``root`` on a shared filesystem. The bar ticks per shard."""
    try:
        import ray
    except ImportError as err:
        raise ValueError("--ray needs the ray package: pip install 'sole[ray]'") from err
    env_vars = {"LP_NUM_THREADS": "1", "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    started = not ray.is_initialized()
    if started:
        ray.init(address=cfg.ray_address, num_cpus=None if cfg.ray_address else cfg.workers,
                 include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env_vars})
    try:
        task = ray.remote(num_cpus=1)(run_job)
        pending = {task.remote(str(root.resolve()), job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                ray.get(ref)  # re-raises a task's error here
                advance(len(pending.pop(ref).episodes))
    finally:
        if started:
            ray.shutdown()


def _run_jobs(root: Path, jobs: list[Job], cfg: SynthConfig, label: str) -> None:
    """Run ``jobs`` (in this process, a spawn pool or Ray) under a progress bar of episodes."""
    run = _run_ray if cfg.ray else _run_pool if cfg.workers > 1 else _run_inline
    start = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(label, total=sum(len(j.episodes) for j in jobs), rate="-")

        def advance(n: int) -> None:
            bar.advance(task, n)
            done = bar.tasks[task].completed
            bar.update(task, rate=f"{done / max(time.perf_counter() - start, 1e-9):.2f}")

        run(root, jobs, cfg, advance)


# --- driver -------------------------------------------------------------------------------------------------------
_CONTENT_FIELDS = ("tasks", "seed", "mix", "eval_per_kind", "shard_size", "size", "env_steps", "views")


def _writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"output folder {root} is not writable ({err}); choose another --out") from err


def _prepare(root: Path, cfg: SynthConfig) -> None:
    """Create ``root``, refuse one made with another config, remove leftovers of an interrupted write."""
    _writable(root)
    wanted = _content(cfg)
    saved = root / "config.json"
    if saved.exists():
        on_disk, defaults = json.loads(saved.read_text()), _content(SynthConfig())
        have = {k: on_disk.get(k, defaults[k]) for k in _CONTENT_FIELDS}  # a field added later had its default
        if have != wanted:
            diff = ", ".join(f"{k}: {have[k]!r} on disk vs {wanted[k]!r}" for k in wanted if have[k] != wanted[k])
            raise ValueError(f"{root} holds a dataset made with another config ({diff}); choose another --out")
    store.write_json(saved, {**wanted, "workers": cfg.workers})
    for tmp in root.rglob(".*.tmp*"):
        tmp.unlink()


def _content(cfg: SynthConfig) -> dict[str, Any]:
    """The config fields that decide a dataset's content, as its config.json holds them (tuples as lists)."""
    return json.loads(json.dumps({k: asdict(cfg)[k] for k in _CONTENT_FIELDS}))


def content_hash(root: str | Path) -> str:
    """SHA-256 over every shard manifest and the metadata files: equal hashes mean equal datasets."""
    root = Path(root)
    h = hashlib.sha256()
    meta = [root / "meta" / "info.json", root / "meta" / "tasks.parquet"]
    for path in sorted([*(root / "shards").glob("*.json"), *meta]):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def synth_split(cfg: SynthConfig, split: str) -> dict[str, Any]:
    root = Path(cfg.out) / split
    _prepare(root, cfg)
    jobs = plan(cfg, split)
    todo = []
    for job in jobs:
        state, problems = store.shard_status(root, job.shard, [e[0] for e in job.episodes])
        if state == "corrupt":
            console.print(f"[yellow]{split} shard {job.shard} is damaged, rewriting it:[/yellow] {'; '.join(problems)}")
        if state != "done":
            todo.append(job)
    n_episodes = sum(len(j.episodes) for j in jobs)
    console.print(f"{split}: {len(jobs)} shards, {n_episodes} episodes, {len(todo)} shards to write -> {root}")
    start = time.perf_counter()
    _run_jobs(root, todo, cfg, f"synth {split}")
    manifests = [store.read_manifest(root, job.shard) for job in jobs]
    store.write_meta(root, manifests, cfg.size)
    n_frames = n_episodes * (cfg.env_steps // FRAME_EVERY + 1)
    return {"path": str(root), "episodes": n_episodes, "frames": n_frames, "shards": len(jobs),
            "written_shards": len(todo), "seconds": round(time.perf_counter() - start, 1),
            "hash": content_hash(root)}


def export_hf_sets(cfg: SynthConfig, splits: tuple[str, ...]) -> dict[str, str]:
    """The records of each split as HF datasets folders (see `SynthConfig.hf`)."""
    from sole.synth.records import export_hf, progress_records, qa_records

    out, paths = Path(cfg.out) / "hf", {}
    for split in splits:
        root = Path(cfg.out) / split
        with console.status(f"exporting {split} records for HF datasets"):
            paths[f"progress/{split}"] = str(export_hf(progress_records(root), out / "progress", split))
            paths[f"qa/{split}"] = str(export_hf(qa_records(root, cfg.size), out / "qa", split, system=None))
    return paths


def label_version() -> str:
    """Short hash of the progress-label source: datasets with different label code are not comparable."""
    from sole.envs import progress

    return hashlib.sha256(Path(progress.__file__).read_bytes()).hexdigest()[:12]


def main(cfg: SynthConfig) -> dict[str, Any]:
    """Write the splits; returns per-split paths, counts, wall time and content hashes."""
    if cfg.shard_size < 1 or cfg.workers < 1 or cfg.eval_per_kind < 0 or cfg.env_steps < FRAME_EVERY:
        raise ValueError(f"need shard_size >= 1, workers >= 1, eval_per_kind >= 0, env_steps >= {FRAME_EVERY}; got "
                         f"{cfg.shard_size}, {cfg.workers}, {cfg.eval_per_kind}, {cfg.env_steps}")
    parse_mix(cfg.mix)
    resolve_tasks(cfg.tasks)
    splits = SPLITS if cfg.eval_per_kind > 0 else ("train",)
    _writable(Path(cfg.out))
    (Path(cfg.out) / "READY.json").unlink(missing_ok=True)
    labels = label_version()
    result: dict[str, Any] = {split: synth_split(cfg, split) for split in splits}
    if cfg.hf:
        result["hf"] = export_hf_sets(cfg, splits)
    if label_version() != labels:
        raise ValueError("sole/envs/progress.py changed during the run: labels may mix versions; delete "
                         f"{cfg.out} and run again")
    store.write_json(Path(cfg.out) / "READY.json", {"config": asdict(cfg), "label_version": labels, **result})
    for split, r in ((s, result[s]) for s in splits):
        console.print(f"{split}: {r['episodes']} episodes in {r['seconds']} s, hash {r['hash'][:12]} -> {r['path']}")
    return result
