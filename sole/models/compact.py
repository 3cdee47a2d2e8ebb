"""The compact reasoner: a small video-language model that follows the SOLE-R1 query contract on 2 CPU cores.

Per query it reads, for each view, the first, previous and current frame, the goal text and its own previous
progress, and answers ``<think>...</think><answer>N%</answer>`` (or only a progress number when asked not to
think). Layout, top-down:

- ``ViewEncoder``: a CNN from scratch per view over first|previous|current stacked with the two differences
  (current - previous, current - first): 15 channels, so motion and change since the start are explicit pixels.
  Every stage is *FiLM-modulated by the goal*, so the goal decides which pixels matter (a model that only
  concatenates the goal can learn to ignore it).
- ``GoalEncoder``: frozen MiniLM sentence + contextual token features (`sole.models.goaltext`) read by learned
  attention queries, plus a learned word embedding over the training goals' words, so open/close separate.
- Fusion MLP over view features, goal vector and Fourier features of the previous progress -> state ``h``.
- ``head``: progress regression from ``h`` (the fast path, ``think=False``).
- ``decoder``: a GRU over a word-level tokenizer fitted on the CoT corpus, conditioned on ``h`` at every step;
  it writes the reasoning and the answer token (``46%``), greedy for judging, sampled for GRPO.

Checkpoints are a directory: ``model.safetensors``, ``config.json`` (format version, model config, step, the
training config) and ``tokenizer.json`` (CoT vocabulary and goal words).
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from sole.models.base import Query, Step, answer_step
from sole.models.goaltext import LRU, MAX_TOKENS, TEXT_DIM, GoalText, goal_cache_size, goal_words
from sole.models.tokenizer import BOS, EOS, PAD, WordTokenizer

FORMAT_VERSION = 1
FILES = ("model.safetensors", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class CompactConfig:
    views: tuple[str, ...] = ("external", "wrist")
    """Views read, in order; each has its own CNN."""
    img_size: int = 64
    """Square frame size the CNN expects; other sizes are resized on entry."""
    channels: tuple[int, ...] = (16, 32, 64, 96)
    """Output channels of the four stride-2 conv stages (64 -> 32 -> 16 -> 8 -> 4 px)."""
    d_goal: int = 128
    """Goal vector width (also the FiLM conditioning input)."""
    goal_queries: int = 4
    """Learned attention queries over the MiniLM goal tokens."""
    d_model: int = 256
    """Width of per-view features and of the fused state h."""
    d_tok: int = 64
    """Decoder token embedding width."""
    d_cond: int = 64
    """Width of the state projection fed to the decoder at every step."""
    d_dec: int = 192
    """Decoder GRU hidden width."""
    vocab_size: int = 0
    """CoT tokenizer size (set when the tokenizer is fitted)."""
    goal_vocab_size: int = 0
    """Goal word vocabulary size incl. pad/unk (set from the training goals)."""
    max_new_tokens: int = 96
    """Longest completion the decoder writes."""

    @classmethod
    def tiny(cls) -> CompactConfig:
        return cls(channels=(8, 16, 16, 16), d_goal=32, goal_queries=2, d_model=64, d_tok=32, d_cond=16, d_dec=64,
                   max_new_tokens=64)


# ----------------------------------------------------------------------------------------------- modules


class GoalEncoder(nn.Module):
    def __init__(self, cfg: CompactConfig):
        super().__init__()
        d = cfg.d_goal
        self.sent = nn.Linear(TEXT_DIM, d)
        self.tok = nn.Linear(TEXT_DIM, d)
        self.queries = nn.Parameter(torch.randn(cfg.goal_queries, d) / d**0.5)
        self.words = nn.EmbeddingBag(max(cfg.goal_vocab_size, 2), d, mode="mean", padding_idx=0)
        self.out = nn.Sequential(nn.Linear(d * (2 + cfg.goal_queries), d), nn.GELU(), nn.Linear(d, d))

    def forward(self, sent: torch.Tensor, tok: torch.Tensor, mask: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        k = self.tok(tok)  # (B, L, d)
        att = torch.einsum("qd,bld->bql", self.queries, k) / k.shape[-1] ** 0.5  # (B, Q, L)
        att = att.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        pooled = torch.einsum("bql,bld->bqd", att, k).flatten(1)  # (B, Q*d)
        return self.out(torch.cat([self.sent(sent), pooled, self.words(words)], dim=-1))  # (B, d)


def _difference_mix() -> torch.Tensor:
    """(15, 9): first|previous|current (9 channels) -> those plus current-previous and current-first."""
    eye = torch.eye(3)
    first, prev, cur = (torch.cat([eye * (i == j) for j in range(3)], dim=1) for i in range(3))  # (3, 9) each
    return torch.cat([first, prev, cur, cur - prev, cur - first], dim=0)


class ViewEncoder(nn.Module):
    """CNN over one view's first|previous|current frames and their differences, FiLM-conditioned on the goal.

    The first conv is parametrised over 15 channels (the frames and the two differences) but, being linear, runs
    as an equivalent 9-channel conv (weights folded through ``mix``): the differences cost nothing at run time.
    FiLM modulates every stage after the first, where maps are small enough for it to be cheap; its scales and
    shifts depend on the goal alone, so `film` computes them apart and a reasoner keeps them per goal string.
    """

    def __init__(self, cfg: CompactConfig):
        super().__init__()
        chans = (15,) + tuple(cfg.channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(c_in, c_out, kernel_size=4 if i < 2 else 3, stride=2, padding=1)
            for i, (c_in, c_out) in enumerate(zip(chans[:-1], chans[1:], strict=True)))
        self.films = nn.ModuleList(nn.Linear(cfg.d_goal, 2 * c) for c in cfg.channels[1:])
        self.film_sizes = [2 * c for c in cfg.channels[1:]]
        self.register_buffer("mix", _difference_mix(), persistent=False)
        side = cfg.img_size // 2 ** len(cfg.channels)
        self.proj = nn.Linear(cfg.channels[-1] * side * side, cfg.d_model)
        self._folded: tuple[tuple[int, int, int], torch.Tensor, torch.Tensor] | None = None

    def film(self, goal: torch.Tensor) -> torch.Tensor:
        """(B, d_goal) goal vectors -> (B, sum(film_sizes)): every stage's FiLM scales and shifts."""
        return torch.cat([f(goal) for f in self.films], dim=-1)

    def forward(self, frames: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float()  # (B, 9, H, W) raw 0..255, channels-last in memory
        w, b = self.first_conv()
        x = F.conv2d(x, w, b, stride=2, padding=1).relu_()
        for conv, params in zip(self.convs[1:], film.split(self.film_sizes, dim=-1), strict=True):
            gamma, beta = params[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
            x = torch.addcmul(beta, conv(x), 1 + gamma).relu_()
        return F.gelu(self.proj(x.flatten(1)))  # (B, d_model)

    def first_conv(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first conv as a 9-channel conv on raw pixels: the difference channels and the input scaling
        x / 127.5 - 1 folded into its weights (the zero padding of raw pixels is black, -1 after scaling).

        Kept between calls while no gradient is needed and the weights are unchanged (an optimiser step or a
        load bumps their version counter, a move to another device their storage), so judging does not refold it
        for every query.
        """
        conv = self.convs[0]
        key = (conv.weight.data_ptr(), conv.weight._version, conv.bias._version)
        if torch.is_grad_enabled() or self._folded is None or self._folded[0] != key:
            w = torch.einsum("oikl,ij->ojkl", conv.weight, self.mix)  # (C1, 9, k, k)
            folded = (w / 127.5, conv.bias - w.sum((1, 2, 3)))
            if torch.is_grad_enabled():
                return folded
            self._folded = (key, *folded)
        return self._folded[1], self._folded[2]


PROGRESS_FREQS = 8


def progress_features(p: torch.Tensor, n: int = PROGRESS_FREQS) -> torch.Tensor:
    """Fourier features of progress in [-1, 1]: (B,) -> (B, 2n + 1)."""
    k = torch.arange(1, n + 1, dtype=p.dtype, device=p.device) * torch.pi / 2
    return torch.cat([p[:, None], torch.sin(p[:, None] * k), torch.cos(p[:, None] * k)], dim=-1)


def fused_state(views: nn.ModuleDict, fuse: nn.Module, d_goal: int, cond: torch.Tensor, prev_progress: torch.Tensor,
                frames: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """`CompactModel.state` over its parts, shared with the `StateModule` copy a reasoner traces."""
    sizes = [d_goal] + [sum(enc.film_sizes) for enc in views.values()]
    goal, *films = cond.split(sizes, dim=-1)
    feats = [enc(f, film) for enc, f, film in zip(views.values(), frames, films, strict=True)]
    return fuse(torch.cat(feats + [goal, progress_features(prev_progress)], dim=-1))


class StateModule(nn.Module):
    """A copy of the parts of a `CompactModel` that `state` reads, as a module whose forward is `state`."""

    def __init__(self, model: CompactModel):
        super().__init__()
        self.views, self.fuse = copy.deepcopy(model.views), copy.deepcopy(model.fuse)
        self.d_goal = model.cfg.d_goal

    def forward(self, cond: torch.Tensor, prev_progress: torch.Tensor, *frames: torch.Tensor) -> torch.Tensor:
        return fused_state(self.views, self.fuse, self.d_goal, cond, prev_progress, frames)


@dataclass
class Inputs:
    """A batch of queries as tensors."""

    frames: dict[str, torch.Tensor]
    """View -> uint8 (B, H, W, 9): first, previous and current frame stacked on channels (`stack_frames`)."""
    goals: list[str]
    prev_progress: torch.Tensor
    """(B,) float."""


class CompactModel(nn.Module):
    def __init__(self, cfg: CompactConfig, tokenizer: WordTokenizer, goal_vocab: list[str]):
        super().__init__()
        if cfg.vocab_size != len(tokenizer) or cfg.goal_vocab_size != len(goal_vocab):
            raise ValueError(f"config vocab sizes ({cfg.vocab_size}, {cfg.goal_vocab_size}) do not match the "
                             f"tokenizer ({len(tokenizer)}) and goal words ({len(goal_vocab)})")
        self.cfg, self.tokenizer, self.goal_vocab = cfg, tokenizer, list(goal_vocab)
        self._goal_index = {w: i for i, w in enumerate(self.goal_vocab)}
        self.goal_text = GoalText()
        self.goal = GoalEncoder(cfg)
        self.views = nn.ModuleDict({v: ViewEncoder(cfg) for v in cfg.views})
        n_in = cfg.d_model * len(cfg.views) + cfg.d_goal + 2 * PROGRESS_FREQS + 1
        self.fuse = nn.Sequential(nn.Linear(n_in, cfg.d_model), nn.GELU(), nn.Linear(cfg.d_model, cfg.d_model),
                                  nn.GELU())
        self.head = nn.Linear(cfg.d_model, 1)
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_tok, padding_idx=PAD)
        self.h0 = nn.Linear(cfg.d_model, cfg.d_dec)
        self.cond = nn.Linear(cfg.d_model, cfg.d_cond)
        self.gru = nn.GRU(cfg.d_tok + cfg.d_cond, cfg.d_dec, batch_first=True)
        self.lm_head = nn.Linear(cfg.d_dec, cfg.vocab_size)

    @classmethod
    def build(cls, cfg: CompactConfig, tokenizer: WordTokenizer, goal_vocab: list[str]) -> CompactModel:
        """A fresh model whose vocabulary sizes come from ``tokenizer`` and ``goal_vocab``."""
        return cls(replace(cfg, vocab_size=len(tokenizer), goal_vocab_size=len(goal_vocab)), tokenizer, goal_vocab)

    # ------------------------------------------------------------------ encoding

    def goal_word_ids(self, goals: list[str]) -> torch.Tensor:
        """(B, MAX_TOKENS) ids of each goal's words (0 = pad, 1 = unknown word)."""
        ids = torch.zeros(len(goals), MAX_TOKENS, dtype=torch.long)
        for i, g in enumerate(goals):
            row = [self._goal_index.get(w, 1) for w in goal_words(g)][:MAX_TOKENS]
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return ids

    def condition(self, goals: list[str]) -> torch.Tensor:
        """All that the goal strings decide, (B, d_goal + FiLM sizes): the goal vector, then each view's FiLM."""
        sent, tok, mask = self.goal_text(goals)
        goal = self.goal(sent, tok, mask, self.goal_word_ids(goals))  # (B, d_goal)
        return torch.cat([goal] + [enc.film(goal) for enc in self.views.values()], dim=-1)

    def encode(self, x: Inputs, cond: torch.Tensor | None = None) -> torch.Tensor:
        """The fused state h (B, d_model) of a batch of queries; ``cond``: their `condition`, if already known."""
        return self.state(*self.state_inputs(x, cond))

    def state_inputs(self, x: Inputs, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """The arguments of `state` for a batch of queries: conditioning, previous progress, sized frames per view."""
        cond = self.condition(x.goals) if cond is None else cond
        return (cond, x.prev_progress.float(), *(self._sized(x.frames[v]) for v in self.views))

    def state(self, cond: torch.Tensor, prev_progress: torch.Tensor, *frames: torch.Tensor) -> torch.Tensor:
        """h (B, d_model) from the goals' `condition` rows, the previous progress (B,) and each view's frames
        (uint8 (B, img_size, img_size, 9), in `views` order): the tensor-only part of `encode`."""
        return fused_state(self.views, self.fuse, self.cfg.d_goal, cond, prev_progress, frames)

    def frozen_state(self) -> torch.jit.ScriptModule:
        """`state` for inference, traced and frozen over a copy of the current weights with channels-last convs
        (no Python between the ops, no per-call weight reorders), for a faster streaming query.
        Later changes to the weights are not seen; any batch size works."""
        s = self.cfg.img_size
        cond_dim = self.cfg.d_goal + sum(sum(enc.film_sizes) for enc in self.views.values())
        with torch.inference_mode(False), torch.no_grad():
            example = (torch.zeros(1, cond_dim), torch.zeros(1),
                       *(torch.zeros(1, s, s, 9, dtype=torch.uint8) for _ in self.views))
            module = StateModule(self).to(memory_format=torch.channels_last).eval()
            with warnings.catch_warnings():
                # TorchScript is deprecated in favour of torch.compile, which compiles C++ for tens of seconds per
                # model on a CPU; torch.export's graphs ran slower than eager here. TorchScript still runs as is.
                warnings.simplefilter("ignore", DeprecationWarning)
                # check_trace off: `first_conv` folds its weights on the first call and reuses them on the next,
                # so two traces differ in form while computing the same
                return torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))

    def _sized(self, frames: torch.Tensor) -> torch.Tensor:
        s = self.cfg.img_size
        if frames.shape[1:3] == (s, s):
            return frames
        x = frames.permute(0, 3, 1, 2).float()  # (B, 9, H, W)
        x = F.interpolate(x, size=(s, s), mode="area" if frames.shape[1] > s else "bilinear")
        return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()  # (B, s, s, 9)

    def progress(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(h).squeeze(-1)  # (B,)

    # ------------------------------------------------------------------ text

    def logits(self, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced next-token logits (B, L, V) for input tokens (B, L) (starting with <bos>)."""
        L = tokens.shape[1]
        cond = self.cond(h)[:, None, :].expand(-1, L, -1)  # (B, L, d_cond)
        inp = torch.cat([self.tok_emb(tokens), cond], dim=-1)  # (B, L, d_tok+d_cond)
        out, _ = self.gru(inp, torch.tanh(self.h0(h))[None])  # (B, L, d_dec)
        return self.lm_head(out)

    @torch.no_grad()
    def generate(self, h: torch.Tensor, *, temperature: float = 0.0, max_new_tokens: int | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Write completions for states h (B, d_model): token ids (B, L) ending in <eos> or cut at the limit.

        ``temperature`` 0 is greedy; above 0 samples from the softmax (used by GRPO).
        """
        B = h.shape[0]
        state = torch.tanh(self.h0(h))  # (B, d_dec)
        cond = self.cond(h)  # (B, d_cond)
        g = self.gru  # one step at a time through its weights: the GRU-cell kernel, without nn.GRU's per-call cost
        tok = torch.full((B,), BOS, dtype=torch.long)
        done = torch.zeros(B, dtype=torch.bool)
        out = []
        for _ in range(max_new_tokens or self.cfg.max_new_tokens):
            inp = torch.cat([self.tok_emb(tok), cond], dim=-1)  # (B, d_tok+d_cond)
            state = torch.gru_cell(inp, state, g.weight_ih_l0, g.weight_hh_l0, g.bias_ih_l0, g.bias_hh_l0)
            logits = self.lm_head(state)  # (B, V)
            if temperature > 0:
                tok = torch.multinomial((logits / temperature).softmax(-1), 1, generator=generator).squeeze(-1)
            else:
                tok = logits.argmax(-1)
            tok = tok.masked_fill(done, PAD)
            out.append(tok)
            done |= tok == EOS
            if bool(done.all()):
                break
        return torch.stack(out, dim=1)

    def decode(self, ids: torch.Tensor) -> list[str]:
        return [self.tokenizer.decode(row.tolist()) for row in ids]

    # ------------------------------------------------------------------ checkpoints

    def save_pretrained(self, path: str | Path, *, step: int = 0, extra: dict[str, Any] | None = None) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        save_file(state, str(path / "model.safetensors"))
        meta = {"format": FORMAT_VERSION, "model": asdict(self.cfg), "step": step, **(extra or {})}
        (path / "config.json").write_text(json.dumps(meta, indent=2))
        tok = json.loads(self.tokenizer.to_json()) | {"goal_words": self.goal_vocab}
        (path / "tokenizer.json").write_text(json.dumps(tok))
        return path

    @classmethod
    def from_pretrained(cls, path: str | Path) -> CompactModel:
        path = Path(path)
        for name in FILES:
            if not (path / name).is_file():
                raise FileNotFoundError(f"not a compact checkpoint: {path / name} is missing (need {', '.join(FILES)})")
        meta = json.loads((path / "config.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: checkpoint format {meta.get('format')!r} is not supported; this version "
                             f"reads format {FORMAT_VERSION}")
        known = {f.name for f in fields(CompactConfig)}
        raw = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["model"].items() if k in known}
        tok_data = json.loads((path / "tokenizer.json").read_text())
        model = cls(CompactConfig(**raw), WordTokenizer.from_json(json.dumps(tok_data)), tok_data["goal_words"])
        load_state(model, load_file(str(path / "model.safetensors")), path)
        return model.eval()


def load_state(model: nn.Module, state: dict[str, torch.Tensor], source: Path | str) -> None:
    """Load weights strictly, with one message listing missing, unexpected and mis-shaped tensors."""
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in state]
    problems += [f"unexpected {k}" for k in state if k not in own]
    problems += [f"{k}: shape {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
                 if k in state and state[k].shape != v.shape]
    if problems:
        raise ValueError(f"{source}: weights do not fit the model config: " + "; ".join(problems[:6]))
    model.load_state_dict(state)


def new_goal_vocab(goals: list[str]) -> list[str]:
    """Goal word vocabulary: pad, unknown, then the words of ``goals`` sorted."""
    return ["<pad>", "<unk>"] + sorted({w for g in goals for w in goal_words(g)})


# ----------------------------------------------------------------------------------------------- reasoner


def stack_frames(first: np.ndarray, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Three uint8 (..., H, W, 3) frames -> (..., H, W, 9), the layout the CNN reads."""
    return np.concatenate([first, previous, current], axis=-1)


def queries_to_inputs(queries: list[Query], views: tuple[str, ...]) -> Inputs:
    """Stack a list of queries into tensors (frames stay uint8)."""
    frames = {}
    for v in views:
        try:
            arr = np.stack([stack_frames(q.first[v], q.previous[v], q.current[v]) for q in queries])
        except KeyError:
            raise ValueError(f"a query lacks view {v!r}; this reasoner reads views {', '.join(views)}") from None
        except ValueError as err:
            raise ValueError(f"view {v!r}: frames of a batch must share one (H, W, 3) shape: {err}") from None
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[-1] != 9:
            raise ValueError(f"view {v!r}: frames must be uint8 (H, W, 3), got {arr.dtype} {arr.shape[1:-1]}x3")
        frames[v] = torch.from_numpy(arr)  # (B, H, W, 9)
    prev = torch.tensor([q.prev_progress for q in queries], dtype=torch.float32)
    return Inputs(frames=frames, goals=[q.goal for q in queries], prev_progress=prev)


class CompactReasoner:
    """`Reasoner` over a `CompactModel`: batched, stateless per query (streaming is O(1) by the contract).

    ``threads``: torch threads while judging (the caller's setting is restored afterwards; None keeps it). One
    by default, for a small machine shared with an RL learner or other jobs (`sole bench score` compares settings).

    ``temperature`` 0 decodes the reasoning greedily (the default: a deterministic reward); above 0 it is sampled,
    as GRPO's rollouts are, from a generator seeded with ``seed``.

    Each goal's conditioning (goal vector and FiLM scales) is computed once and kept (the ``goal_cache`` most
    recently used goals, default `sole.models.goaltext.GOAL_CACHE`, which also bounds the model's memo of goal text
    features), and the state h is computed
    by a frozen trace of the model (`CompactModel.frozen_state`): a reasoner reads a model whose weights do not
    change while it lives (training builds a new one for every validation).
    """

    def __init__(self, model: CompactModel, batch_size: int = 256, threads: int | None = 1,
                 temperature: float = 0.0, seed: int = 0, goal_cache: int | None = None):
        self.model = model.eval()
        self.views = tuple(model.cfg.views)
        self.batch_size = batch_size
        self.threads = threads
        self.temperature = temperature
        self._generator = torch.Generator().manual_seed(seed)
        self._goals = LRU(goal_cache_size() if goal_cache is None else goal_cache)
        self.model.goal_text.new.resize(self._goals.size)
        self._frozen: torch.jit.ScriptModule | None = None

    def conditions(self, goals: list[str]) -> torch.Tensor:
        """The `CompactModel.condition` rows of ``goals``, each new goal string computed once."""
        rows = {g: self._goals[g] for g in dict.fromkeys(goals) if g in self._goals}
        if new := [g for g in dict.fromkeys(goals) if g not in rows]:
            for g, row in zip(new, self.model.condition(new), strict=True):
                rows[g] = self._goals[g] = row
        return torch.stack([rows[g] for g in goals])

    def _state(self, *inputs: torch.Tensor) -> torch.Tensor:
        """`CompactModel.state`, run by its frozen trace (built on the first query)."""
        if self._frozen is None:
            self._frozen = self.model.frozen_state()
        return self._frozen(*inputs)

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            return self._judge(queries, think)
        finally:
            torch.set_num_threads(before)

    @torch.inference_mode()
    def _judge(self, queries: list[Query], think: bool) -> list[Step]:
        steps: list[Step] = []
        for lo in range(0, len(queries), self.batch_size):
            chunk = queries[lo: lo + self.batch_size]
            x = queries_to_inputs(chunk, self.views)
            h = self._state(*self.model.state_inputs(x, self.conditions(x.goals)))
            if not think:
                steps += [Step(progress=float(p)) for p in self.model.progress(h).clamp(-1, 1)]
                continue
            ids = self.model.generate(h, temperature=self.temperature, generator=self._generator)
            for q, text in zip(chunk, self.model.decode(ids), strict=True):
                steps.append(answer_step(text, q.prev_progress))
        return steps
