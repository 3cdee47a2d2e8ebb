"""The interface every reasoner shares: the SOLE-R1 query contract and the episode loop over it.

A *query* is what the published model sees at one timestep: the goal text, the first, previous and current frame
of each view, and its own previous progress ("The task progress for the previous timestep is 35%."). It answers
``<think>...</think><answer>N%</answer>``. A query is O(1) in episode length, so the same `judge` call serves
offline scoring of a whole video (`reason`) and streaming rewards in RL (`sole.reward`).

Backends (compact, hf, api, baselines) implement `Reasoner.judge`; the episode loop, the feedback of previous
progress, the prompt text and the composite image a vision-language model is shown (`composite`: a row per view of
first | previous | current frame) are shared here so they behave the same everywhere.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

ANSWER_RE = re.compile(r"<answer>\s*(-?\d{1,3})\s*%?\s*</answer>")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Query:
    """One timestep of the SOLE-R1 contract. Frames are uint8 (H, W, 3), keyed by view name."""

    goal: str
    first: dict[str, np.ndarray]
    previous: dict[str, np.ndarray]
    current: dict[str, np.ndarray]
    prev_progress: float
    """The answer at the previous queried timestep, in [-1, 1]; 0 at the first step."""


@dataclass(frozen=True)
class Step:
    """A reasoner's answer to one query."""

    progress: float
    """Estimated task progress in [-1, 1] (negative: worse than at the start)."""
    text: str = ""
    """The full completion (``<think>...</think><answer>N%</answer>``); empty when asked not to think."""
    parsed: bool = True
    """False when the completion held no readable ``<answer>N%</answer>`` and ``progress`` is the fallback (the
    previous progress)."""


@dataclass(frozen=True)
class Clip:
    """A video of one episode: uint8 frames (T, H, W, 3) per view, all views of equal length T."""

    frames: dict[str, np.ndarray]

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a clip needs at least one view")
        lengths = {v: f.shape[0] for v, f in self.frames.items()}
        for view, f in self.frames.items():
            if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
                raise ValueError(f"view {view!r}: frames must be uint8 (T, H, W, 3), got {f.dtype} {f.shape}")
        if len(set(lengths.values())) != 1:
            raise ValueError(f"views have different lengths: {lengths}")
        if next(iter(lengths.values())) < 2:
            raise ValueError("a clip needs at least 2 frames to judge progress")

    def __len__(self) -> int:
        return next(iter(self.frames.values())).shape[0]

    def at(self, t: int) -> dict[str, np.ndarray]:
        return {v: f[t] for v, f in self.frames.items()}


@dataclass(frozen=True)
class Judgement:
    """A reasoner's reading of a whole clip."""

    progress: float
    """Progress at the last frame."""
    per_frame: np.ndarray
    """Progress at every frame (T,), interpolated between queried frames."""
    steps: list[tuple[int, Step]] = field(default_factory=list)
    """The queried frame indices and the reasoner's answer at each."""
    parse_failures: int = 0
    """Queried steps whose answer did not parse (their progress is the previous step's): a reader that never
    parses gives a flat curve, so a count above 0 says the reasoner is misconfigured or off its format."""

    def answers(self, end: int | None = None) -> np.ndarray:
        """The progress answered at the queried frames before ``end``, in time order: what the reasoner said,
        without ``per_frame``'s interpolation and its fixed 0 at the first frame."""
        return np.array([s.progress for t, s in self.steps if end is None or t < end], dtype=np.float64)


class Reasoner(Protocol):
    views: tuple[str, ...]
    """The views the reasoner reads, e.g. ``("external", "wrist")``."""

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        """Answer a batch of independent queries."""
        ...


def prompt_text(goal: str, prev_progress: float) -> str:
    """The text part of a query, worded as the published model's prompt."""
    return (
        f"The robot's task is: {goal}. The images show the first, the previous and the current frame. "
        f"The task progress for the previous timestep is {round(100 * prev_progress)}%. "
        "Think about what changed since the previous timestep and what remains, then give the current progress."
    )


VIEW_ROWS = ("external", "wrist")
"""Rows of the composite image, top to bottom, unless a reader names its own views."""


def composite(first: dict[str, np.ndarray], previous: dict[str, np.ndarray], current: dict[str, np.ndarray],
              views: tuple[str, ...] = VIEW_ROWS) -> np.ndarray:
    """The one image of a query: uint8 (len(views) * H, 3 * W, 3), a row per view of first | previous | current."""
    return np.concatenate([np.concatenate([first[v], previous[v], current[v]], axis=1) for v in views], axis=0)


def png_bytes(img: np.ndarray, compress_level: int = -1) -> bytes:
    """A uint8 (H, W, 3) image as PNG bytes; ``compress_level`` 0-9, -1 for zlib's default."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


SYSTEM_PROMPT = ("You estimate how far a robot has got with its task from camera frames. First reason inside "
                 "<think></think> about what changed since the previous timestep and what remains, then give the "
                 "current progress as a whole percent inside <answer></answer> (negative when the scene is worse "
                 "than at the start): <think>...</think><answer>N%</answer>.")
"""The system turn of every query: the answer format, in the place the published model's prompt states it."""


def query_messages(text: str, image: dict | None = None, system: str | None = SYSTEM_PROMPT) -> list[dict]:
    """The chat messages of one query, in the layout of the published model's training data: a system turn, then
    one user turn holding the composite image *before* the text. ``image`` is the image content part (default
    ``{"type": "image"}``, the placeholder a processor's chat template and TRL fill in; an OpenAI-style request
    passes ``{"type": "image_url", ...}``). Every content is a list of parts, as TRL's conversational format has it.
    Export, ``hf:``, ``api:`` and training all build their messages here."""
    user = {"role": "user", "content": [image or {"type": "image"}, {"type": "text", "text": text}]}
    return ([{"role": "system", "content": [{"type": "text", "text": system}]}] if system else []) + [user]


PROMPT_RE = re.compile(r"The robot's task is: (?P<goal>.+?)\. The images show the first, the previous and the current "
                       r"frame\. The task progress for the previous timestep is (?P<prev>-?\d{1,3})%\.", re.DOTALL)


def parse_prompt(text: str) -> tuple[str, float]:
    """The goal and the previous progress back from a `prompt_text`; a clear error for any other text."""
    m = PROMPT_RE.search(text)
    if m is None:
        raise ValueError("the prompt does not follow the SOLE-R1 query text: \"The robot's task is: GOAL. The images "
                         "show the first, the previous and the current frame. The task progress for the previous "
                         "timestep is N%. ...\" (sole.models.base.prompt_text)")
    return m["goal"], int(m["prev"]) / 100.0


def read_answer(text: str) -> float | None:
    """Progress from ``<answer>N%</answer>`` (N in [-100, 100]); None for a malformed answer."""
    m = ANSWER_RE.search(text)
    n = None if m is None else int(m.group(1))
    return n / 100.0 if n is not None and -100 <= n <= 100 else None


def parse_answer(text: str, fallback: float) -> float:
    """Progress from ``<answer>N%</answer>`` (N in [-100, 100]); a malformed answer falls back to ``fallback``."""
    p = read_answer(text)
    return fallback if p is None else p


def answer_step(text: str, fallback: float, *, keep_text: bool = True) -> Step:
    """The `Step` a completion answers: its progress, or ``fallback`` marked unparsed; ``keep_text=False`` leaves
    the text out (a query asked not to think)."""
    p = read_answer(text)
    return Step(progress=fallback if p is None else p, text=text if keep_text else "", parsed=p is not None)


def check_goal(goal: object) -> str:
    """``goal`` when it is non-empty text; a clear error for anything else (None, a number, blank text)."""
    if not isinstance(goal, str):
        raise ValueError(f"the goal must be text, e.g. 'close the window'; got {type(goal).__name__} {goal!r}")
    if not goal.strip():
        raise ValueError("empty goal text; say what the robot should do, e.g. 'close the window'")
    return goal


def query_frames(n_frames: int, stride: int) -> list[int]:
    """Frame indices to query: every ``stride``-th frame from 1, always including the last."""
    idx = list(range(min(stride, n_frames - 1), n_frames, max(stride, 1)))
    if not idx or idx[-1] != n_frames - 1:
        idx.append(n_frames - 1)
    return idx


def reason(reasoner: Reasoner, clips: list[Clip], goals: list[str], *, think: bool = True,
           stride: int = 1) -> list[Judgement]:
    """Run the SOLE-R1 loop over whole clips, batched across clips, feeding each answer back as the next prior.

    ``stride`` > 1 queries every k-th frame (the published tooling queries ~10 frames a video) and interpolates
    progress back to every frame.
    """
    if len(clips) != len(goals):
        raise ValueError(f"{len(clips)} clips but {len(goals)} goals")
    for goal in goals:
        check_goal(goal)
    plans = [query_frames(len(c), stride) for c in clips]
    prev_idx = [0] * len(clips)
    prev_p = [0.0] * len(clips)
    answers: list[list[tuple[int, Step]]] = [[] for _ in clips]
    for k in range(max(len(p) for p in plans)):
        live = [i for i, p in enumerate(plans) if k < len(p)]
        queries = [Query(goal=goals[i], first=clips[i].at(0), previous=clips[i].at(prev_idx[i]),
                         current=clips[i].at(plans[i][k]), prev_progress=prev_p[i]) for i in live]
        for i, step in zip(live, reasoner.judge(queries, think=think), strict=True):
            answers[i].append((plans[i][k], step))
            prev_idx[i], prev_p[i] = plans[i][k], step.progress
    out = []
    for clip, goal, steps in zip(clips, goals, answers, strict=True):
        xs = [0] + [t for t, _ in steps]
        ys = [0.0] + [s.progress for _, s in steps]
        per_frame = np.interp(np.arange(len(clip)), xs, ys)
        failures = sum(not s.parsed for _, s in steps)
        if failures:
            log.warning("%d of %d answers for %r did not parse (no <answer>N%%</answer>); progress kept the previous "
                        "value there", failures, len(steps), goal)
        out.append(Judgement(progress=float(per_frame[-1]), per_frame=per_frame, steps=steps,
                             parse_failures=failures))
    return out
