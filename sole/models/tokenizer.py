"""A word-level tokenizer fitted on the reasoning corpus, lossless on text made of its own pieces.

Each token carries its leading space, so decoding is a plain join. Numbers are whole tokens (``18``, ``0.04``,
``46%``); tags (``<think>``, ``</answer>``) are single tokens. The tags and every answer value ``-100%`` ..
``100%`` are always in the vocabulary, so any answer can be written.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable

PIECE_RE = re.compile(r"\s*(?:</?[a-z]+>|-?\d+(?:\.\d+)?%?|[A-Za-z']+|[^\sA-Za-z\d])")
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD, BOS, EOS, UNK = range(len(SPECIALS))
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
ANSWER_PIECES = tuple(f"{n}%" for n in range(-100, 101))


def pieces(text: str) -> list[str]:
    """Split ``text`` into tokens with their leading whitespace (normalised to one space)."""
    return [(" " + p.lstrip()) if p[:1].isspace() else p for p in PIECE_RE.findall(text)]


class WordTokenizer:
    """Token <-> id over a fixed vocabulary; ids 0..3 are ``<pad> <bos> <eos> <unk>``."""

    def __init__(self, vocab: list[str]):
        if tuple(vocab[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}, got {vocab[:4]}")
        self.vocab = list(vocab)
        self.index = {tok: i for i, tok in enumerate(self.vocab)}

    @classmethod
    def fit(cls, corpus: Iterable[str], min_count: int = 1) -> WordTokenizer:
        counts = Counter(p for text in corpus for p in pieces(text))
        fixed = list(SPECIALS + TAGS + ANSWER_PIECES)
        seen = set(fixed)
        learned = sorted((p for p, c in counts.items() if c >= min_count and p not in seen),
                         key=lambda p: (-counts[p], p))
        return cls(fixed + learned)

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str, *, bos: bool = True, eos: bool = True) -> list[int]:
        ids = [self.index.get(p, UNK) for p in pieces(text)]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(SPECIALS) or i == UNK:
                out.append(self.vocab[i])
        return "".join(out)

    def to_json(self) -> str:
        return json.dumps({"kind": "word", "vocab": self.vocab})

    @classmethod
    def from_json(cls, text: str) -> WordTokenizer:
        data = json.loads(text)
        if data.get("kind") != "word" or not isinstance(data.get("vocab"), list):
            raise ValueError("not a word tokenizer file: expected {'kind': 'word', 'vocab': [...]}")
        return cls(data["vocab"])
