"""`sole train grpo`: reinforcement learning with verifiable rewards on the compact reasoner's completions.

Per query (drawn as in SFT) the decoder samples G completions; each is rewarded by

- progress accuracy ``1 - |answer - label|`` (0 when no answer parses),
- answer-format validity (``<think>...</think><answer>N%</answer>``),
- fact accuracy: the share of the reasoning's claims (other than progress) that the facts verify
  (`sole.data.cot.cot_fact_accuracy`),

summed with weights. Advantages are normalised within each group of G; the loss is the clipped-ratio surrogate
over the completion's tokens plus a KL penalty (k3 estimator) to the frozen SFT model. By default only the text
decoder is updated: the visual state h and the fast progress head stay exactly as SFT left them, so GRPO can only
change what the model *writes*. With ``--update all`` the policy gradient also reaches the encoders and fusion
that compute h (the KL reference then reads its own h), so the progress head, which reads h, moves too. Before and
after, the same validation is run (a `sole.train.sft.Validate`, handed in by the command: the evaluation protocol,
`sole.eval.protocol.Validation`), its reasoning read greedily (as a reward reads it) and, as ``sampled/think/*``,
sampled at the training temperature (what GRPO's reward was earned by).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from sole.data.cot import THINK_RE, cot_fact_accuracy
from sole.models.base import parse_answer
from sole.models.compact import CompactModel, CompactReasoner, Inputs
from sole.synth.episode import Episode
from sole.train.samples import (
    DataConfig,
    Example,
    SampleConfig,
    Sampler,
    load_split,
    query_facts,
    read_unseen,
    spread,
    to_inputs,
)
from sole.train.sft import SFTConfig, Validate, lr_at

console = Console()
DECODER = ("tok_emb", "h0", "cond", "gru", "lm_head")
"""Parameter prefixes of the text decoder (all GRPO updates by default)."""


@dataclass(frozen=True)
class GRPOConfig:
    init: str = "runs/sft-fold-a/final"
    """SFT checkpoint to start from (also the KL reference)."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training and validation episodes (use the SFT run's)."""
    out: str = "runs/grpo-fold-a"
    """Run directory: metrics.jsonl, final/ checkpoint, compare.json (SFT vs GRPO on validation)."""
    sample: SampleConfig = field(default_factory=SampleConfig)
    """How queries are drawn."""
    steps: int = 300
    """Policy updates."""
    queries: int = 8
    """Queries per update."""
    group: int = 8
    """Completions sampled per query (G)."""
    temperature: float = 1.0
    """Sampling temperature."""
    update: Literal["decoder", "all"] = "decoder"
    """What the policy gradient trains: the text decoder only, or the whole model (h and the progress head move)."""
    lr: float = 1e-4
    """Learning rate (warm-up then cosine, as SFT)."""
    warmup: int = 20
    clip: float = 0.2
    """PPO ratio clip."""
    inner_epochs: int = 2
    """Gradient steps per sampled batch (the first has ratio 1; later ones are clipped)."""
    kl: float = 0.05
    """Weight of the KL penalty to the SFT model."""
    w_accuracy: float = 1.0
    w_format: float = 0.5
    w_facts: float = 0.5
    eval_tasks: str = ""
    """Tasks whose episodes of the validation set (``data.val``) form the before/after comparison; empty: the
    training tasks. Otherwise only tasks not trained on (an overlap is an error): give the other fold for a
    comparison on tasks neither model trained on."""
    eval_episodes: int = 40
    """Validation episodes in the before/after comparison, evenly spread over the validation set."""
    think_episodes: int = 40
    """Of those, episodes read with reasoning on (the metrics a decoder-only update can change); the command hands
    this to the validation it runs."""
    threads: int = 1
    seed: int = 0

    @classmethod
    def tiny(cls, init: str, data: str = "data/tiny", out: str = "runs/grpo-tiny") -> GRPOConfig:
        return cls(init=init, data=DataConfig(root=data, val="", tasks="all", val_every=3), out=out, steps=4,
                   queries=2, group=3, warmup=1, eval_episodes=3, think_episodes=1)


# ----------------------------------------------------------------------------------------------- rewards


def answer_accuracy(text: str, label: float) -> float:
    """``1 - |answer - label|``, 0 when no answer parses."""
    answer = parse_answer(text, float("nan"))
    return 0.0 if np.isnan(answer) else 1.0 - abs(answer - label)


def well_formed(text: str) -> float:
    """1 for a completion of the form ``<think>...</think><answer>N%</answer>``, else 0."""
    return float(THINK_RE.match(text.strip()) is not None)


def rewards(cfg: GRPOConfig, texts: list[str], examples: list[Example],
            episodes: list[Episode]) -> dict[str, np.ndarray]:
    """Per-completion reward parts; ``examples[i]`` is the query of ``texts[i]``."""
    acc, fmt, facts = [], [], []
    for text, ex in zip(texts, examples, strict=True):
        acc.append(answer_accuracy(text, ex.progress))
        fmt.append(well_formed(text))
        facts.append(cot_fact_accuracy(text, *query_facts(episodes[ex.episode], ex), ex.progress,
                                       goal_task=ex.goal_task))
    parts = {"accuracy": np.array(acc), "format": np.array(fmt), "facts": np.array(facts)}
    parts["total"] = cfg.w_accuracy * parts["accuracy"] + cfg.w_format * parts["format"] + cfg.w_facts * parts["facts"]
    return parts


def group_advantages(total: np.ndarray, group: int) -> torch.Tensor:
    """(N*G,) rewards -> advantages normalised within each consecutive group of G."""
    r = torch.as_tensor(total, dtype=torch.float32).view(-1, group)  # (N, G)
    return ((r - r.mean(1, keepdim=True)) / (r.std(1, keepdim=True) + 1e-4)).view(-1)


# ----------------------------------------------------------------------------------------------- policy terms


def trainable(cfg: GRPOConfig, name: str) -> bool:
    """Whether parameter ``name`` is updated under ``cfg.update``."""
    return cfg.update == "all" or name.startswith(DECODER)


def state(model: CompactModel, inputs: Inputs, group: int) -> torch.Tensor:
    """The visual state h of each query, repeated for its G completions: (N*G, d_model)."""
    return model.encode(inputs).repeat_interleave(group, dim=0)


def policy_state(cfg: GRPOConfig, model: CompactModel, inputs: Inputs, sampled: torch.Tensor) -> torch.Tensor:
    """The h a policy term reads: the h the completions were sampled from while h is frozen (decoder-only), else
    ``model``'s own, recomputed so the gradient reaches the encoders."""
    return state(model, inputs, cfg.group) if cfg.update == "all" else sampled


def token_logprobs(model: CompactModel, h: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities (N, L) of sampled ``ids`` (N, L) under ``model`` and the mask of real tokens.

    A completion's tokens run up to and including its first <eos>; the padding after it is masked out.
    """
    from sole.models.tokenizer import BOS, PAD

    inp = torch.cat([torch.full((ids.shape[0], 1), BOS, dtype=torch.long), ids[:, :-1]], dim=1)  # (N, L)
    logp = model.logits(h, inp).log_softmax(-1).gather(-1, ids[..., None]).squeeze(-1)  # (N, L)
    return logp, ids != PAD


def policy_loss(cfg: GRPOConfig, logp: torch.Tensor, old: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor,
                adv: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate + KL(k3) to the reference, averaged per completion over its tokens, then over the batch."""
    ratio = (logp - old).exp()
    surrogate = torch.minimum(ratio * adv[:, None], ratio.clamp(1 - cfg.clip, 1 + cfg.clip) * adv[:, None])
    kl = (ref - logp).exp() - (ref - logp) - 1
    per_tok = -surrogate + cfg.kl * kl
    n = mask.sum(1).clamp(min=1)
    loss = ((per_tok * mask).sum(1) / n).mean()
    with torch.no_grad():
        stats = {"kl": float(((kl * mask).sum(1) / n).mean()),
                 "clipfrac": float((((ratio - 1).abs() > cfg.clip) & mask).sum() / mask.sum().clamp(min=1))}
    return loss, stats


# ----------------------------------------------------------------------------------------------- loop


def judge_all(cfg: GRPOConfig, model: CompactModel, episodes: list[Episode], validate: Validate) -> dict[str, float]:
    """``validate`` (greedy reasoning, as a reward reads it), plus ``sampled/think/*``: its reasoning readings with
    completions sampled at the training temperature, the distribution GRPO's reward was earned by."""
    episodes = spread(episodes, cfg.eval_episodes)
    sampled = CompactReasoner(model, temperature=cfg.temperature, seed=cfg.seed)
    return validate(CompactReasoner(model), episodes) | {
        f"sampled/{k}": v for k, v in validate(sampled, episodes).items() if k.startswith("think/")}


def _compare(before: dict[str, float], after: dict[str, float], path: Path) -> dict[str, Any]:
    table = Table(title="held-out validation: SFT vs SFT+GRPO")
    for col in ("metric", "SFT", "GRPO"):
        table.add_column(col, justify="right" if col != "metric" else "left")
    for k in before:
        table.add_row(k, f"{before[k]:.4f}", f"{after.get(k, float('nan')):.4f}")
    console.print(table)
    out = {"sft": before, "grpo": after}
    path.write_text(json.dumps(out, indent=2))
    return out


def main(cfg: GRPOConfig, validate: Validate) -> dict[str, Any]:
    if cfg.sample.p_derived > 0:
        raise ValueError("sample.p_derived must be 0 for GRPO: its fact reward verifies claims about suite tasks, "
                         "and derived goals have none")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    split = load_split(cfg.data)
    val = read_unseen(cfg.data, cfg.eval_tasks, split.tasks) if cfg.eval_tasks else split.val
    return train(cfg, split.tasks, split.train, val, validate=validate)


def train(cfg: GRPOConfig, tasks: tuple[str, ...], train_eps: list[Episode], val_eps: list[Episode], *,
          validate: Validate) -> dict[str, Any]:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    model = CompactModel.from_pretrained(cfg.init)
    ref = copy.deepcopy(model).eval()
    before = judge_all(cfg, model, val_eps or train_eps, validate)
    params = [p for n, p in model.named_parameters() if trainable(cfg, n)]
    for n, p in model.named_parameters():
        p.requires_grad_(trainable(cfg, n))
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    sampler = Sampler(train_eps, tasks, cfg.sample, seed=cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    sched = SFTConfig(lr=cfg.lr, warmup=cfg.warmup, steps=cfg.steps)
    t0 = time.time()
    with (out / "metrics.jsonl").open("w") as log:
        for step in range(cfg.steps):
            # --- sample G completions per query from the current policy
            examples = sampler.batch(cfg.queries)
            inputs = to_inputs(train_eps, examples, model.cfg.views)
            with torch.no_grad():
                h = state(model.eval(), inputs, cfg.group)
                ids = model.generate(h, temperature=cfg.temperature, generator=gen)
                old, mask = token_logprobs(model, h, ids)
                ref_logp, _ = token_logprobs(ref, policy_state(cfg, ref, inputs, h), ids)
            group_examples = [e for e in examples for _ in range(cfg.group)]
            parts = rewards(cfg, model.decode(ids), group_examples, train_eps)
            adv = group_advantages(parts["total"], cfg.group)
            # --- clipped policy-gradient steps
            model.train()
            for g in opt.param_groups:
                g["lr"] = lr_at(sched, step)
            for _ in range(cfg.inner_epochs):
                logp, _ = token_logprobs(model, policy_state(cfg, model, inputs, h), ids)
                loss, stats = policy_loss(cfg, logp, old, ref_logp, mask, adv)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
            row = {"step": step + 1, "train/loss": loss.item(), **{f"train/{k}": v for k, v in stats.items()},
                   **{f"reward/{k}": float(v.mean()) for k, v in parts.items()}, "time/elapsed_s": time.time() - t0}
            log.write(json.dumps(row) + "\n")
            log.flush()
            if step % 10 == 0:
                console.print(f"grpo {step + 1}/{cfg.steps} reward {row['reward/total']:.3f} "
                              f"acc {row['reward/accuracy']:.3f} facts {row['reward/facts']:.3f} kl {stats['kl']:.4f}")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(True)
    model.save_pretrained(out / "final", step=cfg.steps, extra={"grpo": asdict(cfg)})
    after = judge_all(cfg, model, val_eps or train_eps, validate)
    return _compare(before, after, out / "compare.json")
