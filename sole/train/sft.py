"""`sole train sft`: supervised training of the compact reasoner on synthesized episodes.

One loop, top-down: load episodes -> split train/validation per task -> fit the CoT tokenizer on generated
completions -> sample queries (`sole.train.samples`) -> loss = progress L1 (fast head) + teacher-forced CoT
cross-entropy (decoder), plus foundation QA through the decoder when asked (`sole.train.qa`) -> periodic
validation and checkpoints. A rerun with the same ``out`` resumes from ``out/last`` (weights, optimizer, step).

Validation is a `Validate` callable handed in by the caller. The command (`sole.cli`) hands in the evaluation
protocol of `sole eval reward` (`sole.eval.protocol.Validation`), so ``val.json`` and an evaluation's
``metrics.json`` mean the same thing; training comes before evaluation on the data path and does not import it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from safetensors.torch import load_file, save_file

from sole.models.base import Reasoner
from sole.models.compact import CompactConfig, CompactModel, CompactReasoner, new_goal_vocab
from sole.models.tokenizer import PAD, WordTokenizer
from sole.synth.episode import Episode
from sole.train.qa import QAExample, QASampler, qa_accuracy
from sole.train.samples import (
    DataConfig,
    SampleConfig,
    Sampler,
    completion,
    load_split,
    read_unseen,
    spread,
    to_inputs,
)

console = Console()

Validate = Callable[[Reasoner, list[Episode]], dict[str, float]]
"""Reads a reasoner on validation episodes and returns its metrics (`sole.eval.protocol.Validation`)."""


@dataclass(frozen=True)
class SFTConfig:
    data: DataConfig = field(default_factory=DataConfig)
    """Training and validation episodes."""
    out: str = "runs/sft-fold-a"
    """Run directory: metrics.jsonl, last/ (resumable) and final/ checkpoints."""
    model: CompactConfig = field(default_factory=CompactConfig)
    """Model shape (vocabulary sizes are filled in from the data)."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """How training queries are drawn."""
    steps: int = 5000
    """Optimizer steps."""
    batch_size: int = 64
    """Queries per step (all train the progress head)."""
    text_batch: int = 16
    """Queries per step whose completion trains the decoder (the CoT is templated: fewer examples suffice, and
    the recurrent decoder is the costly part of a step on CPU). 0 trains the progress head alone, without the
    reasoning."""
    qa_batch: int = 0
    """Foundation-QA queries per step (`sole.train.qa`: questions about the training episodes' frames), trained
    through the decoder alone; validation then reads their accuracy too (``qa_acc``). 0: none, as the shipped
    checkpoints were trained."""
    qa_episodes: int = 200
    """Questions read per validation for ``qa_acc``."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warm-up, cosine decay to 10%)."""
    warmup: int = 200
    """Warm-up steps."""
    weight_decay: float = 0.01
    progress_weight: float = 5.0
    """Weight of the progress L1 loss against the text cross-entropy."""
    eval_every: int = 1000
    """Steps between validations (and checkpoints)."""
    eval_episodes: int = 60
    """Validation episodes read per validation, evenly spread over the validation set (0: all)."""
    probe_tasks: str = ""
    """Tasks not trained on whose episodes of ``data.val`` are also read at each validation (metrics under
    ``probe/``): how the reading of unseen tasks moves during training. For watching only; the final checkpoint
    is the one shipped, so choosing a step by it would tune on the held-out tasks."""
    keep_checkpoints: bool = False
    """Also keep the weights of every validation as ``step-N/`` (``last/`` is overwritten), to read any of them
    later with `sole eval reward`."""
    corpus: int = 20000
    """Completions generated to fit the CoT tokenizer."""
    threads: int = 1
    """Torch CPU threads. One suits a shared 2-core machine: two threads wait on each other whenever one is
    descheduled."""
    seed: int = 0

    @classmethod
    def tiny(cls, data: str = "data/tiny", out: str = "runs/sft-tiny") -> SFTConfig:
        return cls(data=DataConfig(root=data, val="", tasks="all", val_every=3), out=out, model=CompactConfig.tiny(),
                   steps=20, batch_size=8, text_batch=4, warmup=2, eval_every=10, eval_episodes=4, corpus=200)


# ----------------------------------------------------------------------------------------------- helpers


def lr_at(cfg: SFTConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def pad_tokens(rows: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r)
    return out


def text_ce(model: CompactModel, h: torch.Tensor, texts: list[str]) -> torch.Tensor:
    """Teacher-forced cross-entropy of ``texts`` given states h (one row each); 0 when there are none."""
    if not texts:
        return torch.zeros(())
    tokens = pad_tokens([model.tokenizer.encode(t) for t in texts])  # (b, L)
    logits = model.logits(h, tokens[:, :-1])  # (b, L-1, V)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1), ignore_index=PAD)


def losses(model: CompactModel, episodes: list[Episode], examples: list, texts: list[str],
           shift: int, rng: np.random.Generator, qa: Sequence[QAExample] = ()) -> dict[str, torch.Tensor]:
    """Progress L1 of the fast head, teacher-forced CoT cross-entropy of the first ``len(texts)`` queries and, for
    the foundation questions ``qa`` (encoded in the same pass), their answers' cross-entropy."""
    h = model.encode(to_inputs(episodes, [*examples, *qa], model.cfg.views, shift, rng))
    h, h_qa = h[: len(examples)], h[len(examples):]
    target = torch.tensor([e.progress for e in examples], dtype=torch.float32)
    parts = {"progress_l1": (model.progress(h) - target).abs().mean(),
             "text_ce": text_ce(model, h[: len(texts)], texts)}
    return parts | ({"qa_ce": text_ce(model, h_qa, [q.completion for q in qa])} if qa else {})


def fit_vocabularies(sampler: Sampler, n: int, rng: np.random.Generator,
                     qa: QASampler | None = None) -> tuple[WordTokenizer, list[str]]:
    """The CoT tokenizer and the goal words, from ``n`` drawn queries (and ``n`` drawn questions when QA is mixed
    in): exactly the text training will show."""
    examples = sampler.batch(n)
    questions = qa.batch(n) if qa is not None else []
    tokenizer = WordTokenizer.fit([*(completion(sampler.episodes[e.episode], e, rng) for e in examples),
                                   *(q.completion for q in questions)])
    return tokenizer, new_goal_vocab([e.goal for e in [*examples, *questions]])


def save_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    """AdamW state as safetensors (tensors) + JSON (hyper-parameters); no pickle."""
    tensors = {f"{i}.{k}": v.contiguous() for i, st in opt.state_dict()["state"].items() for k, v in st.items()}
    save_file(tensors, str(path / "optimizer.safetensors"))
    (path / "optimizer.json").write_text(json.dumps(opt.state_dict()["param_groups"]))


def load_optimizer(opt: torch.optim.Optimizer, path: Path) -> None:
    tensors = load_file(str(path / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, v in tensors.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": json.loads((path / "optimizer.json").read_text())})


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)


def _progress_bar() -> Progress:
    return Progress(TextColumn("[bold]sft"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                    TimeRemainingColumn(), console=console)


# ----------------------------------------------------------------------------------------------- training


def build_or_resume(cfg: SFTConfig, sampler: Sampler, rng: np.random.Generator,
                    qa: QASampler | None = None) -> tuple[CompactModel, torch.optim.Optimizer, int]:
    last = Path(cfg.out) / "last"
    if (last / "config.json").is_file():
        model = CompactModel.from_pretrained(last).train()
        step = json.loads((last / "config.json").read_text())["step"]
    else:
        model, step = CompactModel.build(cfg.model, *fit_vocabularies(sampler, cfg.corpus, rng, qa)), 0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if step > 0:
        load_optimizer(opt, last)
    return model, opt, step


def validate_model(model: CompactModel, val: list[Episode], cfg: SFTConfig, validate: Validate,
                   prefix: str = "val") -> dict[str, float]:
    """``validate`` on ``cfg.eval_episodes`` of ``val`` (and QA accuracy when QA is trained), under ``prefix/``."""
    model.eval()
    metrics = {f"{prefix}/{k}": v for k, v in validate(CompactReasoner(model), spread(val, cfg.eval_episodes)).items()}
    if cfg.qa_batch > 0:
        metrics |= {f"{prefix}/{k}": v for k, v in qa_accuracy(model, val, cfg.qa_episodes, cfg.seed).items()}
    model.train()
    return metrics


CURVES = ("mae", "voc", "hack_acc", "confusion")
"""Validation readings drawn in ``curves.png``, one panel each, for the training tasks and the probe tasks."""


def plot_curves(out: Path) -> Path:
    """``out/curves.png`` from ``out/metrics.jsonl``: the training L1 and the validation (and probe) readings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    fig, axes = plt.subplots(1, 1 + len(CURVES), figsize=(3.2 * (1 + len(CURVES)), 2.8), dpi=110)
    steps = np.array([r["step"] for r in rows])
    l1 = np.array([r["train/progress_l1"] for r in rows])
    k = min(50, len(l1))
    axes[0].plot(steps[k - 1:], np.convolve(l1, np.ones(k) / k, mode="valid"))
    axes[0].set_title("train progress L1", fontsize=9)
    for ax, name in zip(axes[1:], CURVES, strict=True):
        for prefix, label in (("val", "training tasks"), ("probe", "unseen tasks")):
            pts = [(r["step"], r[f"{prefix}/{name}"]) for r in rows if f"{prefix}/{name}" in r]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", ms=3, label=label)
        ax.set_title(name, fontsize=9)
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png")
    plt.close(fig)
    return out / "curves.png"


def save(model: CompactModel, opt: torch.optim.Optimizer | None, cfg: SFTConfig, step: int, name: str) -> Path:
    """A checkpoint; with the optimizer state when it is one to resume from."""
    path = model.save_pretrained(Path(cfg.out) / name, step=step, extra={"train": asdict(cfg)})
    if opt is not None:
        save_optimizer(opt, path)
    return path


def main(cfg: SFTConfig, validate: Validate) -> Path:
    split = load_split(cfg.data)
    recorded = set(split.train[0].frames)
    if missing := [v for v in cfg.model.views if v not in recorded]:
        raise ValueError(f"the model reads views {', '.join(missing)} that {cfg.data.root} does not hold (it has "
                         f"{', '.join(sorted(recorded))}); synthesize them with `sole synth --views ...`")
    probe = read_unseen(cfg.data, cfg.probe_tasks, split.tasks) if cfg.probe_tasks else []
    return train(cfg, split.tasks, split.train, split.val, probe, validate=validate)


def train(cfg: SFTConfig, tasks: tuple[str, ...], train_eps: list[Episode], val_eps: list[Episode],
          probe_eps: list[Episode] | None = None, *, validate: Validate) -> Path:
    """Train on ``train_eps`` (goals drawn from ``tasks``), validate with ``validate`` on ``val_eps`` (and
    ``probe_eps``, episodes of tasks not trained on); the final checkpoint dir."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    rng = np.random.default_rng(cfg.seed)
    sampler = Sampler(train_eps, tasks, cfg.sample, seed=cfg.seed)
    qa = QASampler(train_eps, seed=cfg.seed) if cfg.qa_batch > 0 else None
    model, opt, start = build_or_resume(cfg, sampler, rng, qa)
    # a resumed run draws a fresh, still deterministic, sample stream
    sampler.rng, rng = np.random.default_rng([cfg.seed, start]), np.random.default_rng([cfg.seed, start, 1])
    if qa is not None:
        qa.rng = np.random.default_rng([cfg.seed, start, 2])
    console.print(f"sft: {len(train_eps)} train / {len(val_eps)} val episodes, {len(tasks)} tasks, "
                  f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, vocab {len(model.tokenizer)}, "
                  f"from step {start}")
    model.train()
    t0, metrics = time.time(), {}
    with (out / "metrics.jsonl").open("a") as log, _progress_bar() as bar:
        job = bar.add_task("sft", total=cfg.steps, completed=start, info="")
        for step in range(start, cfg.steps):
            # --- one optimizer step
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step)
            examples = sampler.batch(cfg.batch_size)
            texts = [completion(train_eps[e.episode], e, rng) for e in examples[: cfg.text_batch]]
            questions = qa.batch(cfg.qa_batch) if qa is not None else []
            parts = losses(model, train_eps, examples, texts, cfg.sample.shift, rng, questions)
            loss = cfg.progress_weight * parts["progress_l1"] + parts["text_ce"] + parts.get("qa_ce", 0.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            row = {"step": step + 1, "train/loss": loss.item(), "train/lr": lr_at(cfg, step),
                   **{f"train/{k}": v.item() for k, v in parts.items()}}
            bar.update(job, advance=1, info=f"loss {row['train/loss']:.3f} l1 {row['train/progress_l1']:.3f}")
            # --- validation and checkpoint
            validating = (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps
            if validating:
                if val_eps:
                    metrics = validate_model(model, val_eps, cfg, validate)
                    row |= metrics
                if probe_eps:
                    row |= validate_model(model, probe_eps, cfg, validate, prefix="probe")
                row["time/elapsed_s"] = time.time() - t0
                save(model, opt, cfg, step + 1, "last")
                if cfg.keep_checkpoints:
                    save(model, None, cfg, step + 1, f"step-{step + 1}")
            log.write(json.dumps(row) + "\n")
            log.flush()
            if validating:
                plot_curves(out)
    final = save(model, None, cfg, cfg.steps, "final")
    if metrics:
        _print_metrics(f"sft validation at step {cfg.steps}", metrics)
        (final / "val.json").write_text(json.dumps(metrics, indent=2))
    return final
