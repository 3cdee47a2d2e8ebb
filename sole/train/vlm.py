"""`sole train vlm`: fine-tune a vision-language model on synthesized reasoning, as the published recipe does:
supervised fine-tuning (TRL's ``SFTTrainer``), then reinforcement learning with verifiable rewards (TRL's
``GRPOTrainer``).

The data is a ``sole train export`` output (``<out>/hf/progress``): TRL's conversational format, one query of the
SOLE-R1 contract per row (`sole.models.base.query_messages`: a system turn, then the composite image before the
prompt text), the completion, the true progress and the facts of both frames. GRPO's reward is the project's own
verifier as plain TRL reward callables, weighted: answer accuracy against the label, answer format and the share
of the reasoning's claims the facts verify (`sole.train.grpo`, `sole.data.cot`).

With ``--lora`` each stage trains PEFT LoRA adapters on the language model and merges them into the weights at its
end, so GRPO starts from the merged SFT model and ``<out>/final`` is a plain model folder: it loads as
``hf:<out>/final`` (`sole.models.hf`) and serves with `sole serve` or any OpenAI-compatible server. A rerun with the
same ``out`` resumes: a finished stage is skipped, an unfinished one continues from its last checkpoint. Metrics of
both stages go to ``<out>/metrics.jsonl`` (keys ``sft/*``, ``grpo/*``), the resolved config to
``<out>/config.json``. ``--base tiny-llava`` or ``tiny-qwen2.5-vl`` builds a tiny random model
(`sole.models.tiny_vlm`) with a tokenizer trained on the data: a check of the path, not a model. docs/vlm.md has the
8B plan.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from sole.data.cot import cot_fact_accuracy
from sole.train.grpo import answer_accuracy, well_formed

console = Console()
TINY = "tiny-"
"""``--base`` prefix naming a tiny random model family (`sole.models.tiny_vlm.FAMILIES`) instead of a folder."""


@dataclass(frozen=True)
class VLMConfig:
    base: str
    """The model to fine-tune: a local folder as ``save_pretrained`` writes it (e.g. Qwen2.5-VL-7B-Instruct, the
    published SOLE-R1-8B), or ``tiny-llava`` / ``tiny-qwen2.5-vl`` for a tiny random model built from the data."""
    data: str
    """A ``sole train export`` output folder of progress records (``<synth out>/hf/progress``)."""
    out: str = "runs/vlm"
    """Run directory: config.json, metrics.jsonl, sft/ and grpo/ (checkpoints; sft/final the merged SFT model)
    and final/ (the merged SFT+GRPO model, with its processor)."""
    split: str = "train"
    """Split of ``data`` to train on."""
    records: int = 0
    """Train on this many records drawn at random (0: all)."""
    lora: bool = False
    """Train LoRA adapters on the language model (merged at the end of each stage) instead of every weight."""
    lora_rank: int = 16
    """LoRA rank r."""
    lora_alpha: int = 32
    """LoRA scale alpha (the update is scaled by alpha / r)."""
    lora_targets: str = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
    """Regular expression over module names: the linear layers that get adapters (the language model's)."""
    sft_steps: int = 1000
    """SFT optimizer steps (0 skips SFT)."""
    sft_lr: float = 1e-4
    """SFT learning rate."""
    batch: int = 4
    """SFT records per device and step."""
    grad_accum: int = 4
    """Gradient accumulation steps of both stages."""
    grpo_steps: int = 300
    """GRPO optimizer steps (0 skips GRPO)."""
    grpo_lr: float = 1e-5
    """GRPO learning rate."""
    queries: int = 2
    """Queries per device and GRPO step."""
    group: int = 8
    """Completions sampled per query (G); advantages are normalised within each group."""
    max_completion: int = 256
    """Longest completion sampled in GRPO, in tokens."""
    temperature: float = 1.0
    """GRPO sampling temperature (the published model samples at 1.0, top-p 0.9)."""
    top_p: float = 0.9
    """GRPO nucleus sampling."""
    kl: float = 0.04
    """Weight of the KL penalty to the starting model (TRL's beta)."""
    w_accuracy: float = 1.0
    """Weight of answer accuracy ``1 - |answer - label|``."""
    w_format: float = 0.5
    """Weight of the answer format ``<think>...</think><answer>N%</answer>``."""
    w_facts: float = 0.5
    """Weight of the share of the reasoning's claims the facts verify."""
    bf16: bool = False
    """Train in bfloat16 (on a GPU); float32 otherwise."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass (less memory, about a third slower)."""
    save_every: int = 100
    """Checkpoint every this many steps (the last two are kept) to resume from."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    seed: int = 0

    @classmethod
    def tiny(cls, data: str, out: str, family: str = "llava") -> VLMConfig:
        """A few steps of each stage on a tiny random model: the path check of the tests and docs/vlm.md."""
        return cls(base=TINY + family, data=data, out=out, records=16, lora=True, lora_rank=4, lora_alpha=8,
                   sft_steps=4, batch=2, grad_accum=1, grpo_steps=2, queries=1, group=2, max_completion=16,
                   save_every=2, sft_lr=1e-3, grpo_lr=1e-3)


# ----------------------------------------------------------------------------------------------- rewards


def _text(completion: str | list[dict]) -> str:
    """The text of a completion, plain or conversational (the assistant turn TRL hands a reward function)."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text") or "" for p in content)


def accuracy_reward(prompts: list, completions: list, progress: list[float], **kw: Any) -> list[float]:
    """Answer accuracy against the label (`sole.train.grpo.answer_accuracy`)."""
    return [answer_accuracy(_text(c), p) for c, p in zip(completions, progress, strict=True)]


def format_reward(prompts: list, completions: list, **kw: Any) -> list[float]:
    """1 for ``<think>...</think><answer>N%</answer>`` (`sole.train.grpo.well_formed`), else 0."""
    return [well_formed(_text(c)) for c in completions]


def facts_reward(prompts: list, completions: list, progress: list[float], facts_prev: list[str],
                 facts_cur: list[str], goal_task: list[str], **kw: Any) -> list[float]:
    """The share of the reasoning's claims the facts of both frames verify (`sole.data.cot.cot_fact_accuracy`)."""
    return [cot_fact_accuracy(_text(c), json.loads(fp), json.loads(fc), p, goal_task=g)
            for c, p, fp, fc, g in zip(completions, progress, facts_prev, facts_cur, goal_task, strict=True)]


REWARDS = (accuracy_reward, format_reward, facts_reward)
"""GRPO's reward callables, in the order of their weights (`reward_weights`)."""


def reward_weights(cfg: VLMConfig) -> list[float]:
    return [cfg.w_accuracy, cfg.w_format, cfg.w_facts]


# ----------------------------------------------------------------------------------------------- helpers


def metrics_log(path: Path, stage: str) -> Any:
    """A `transformers.TrainerCallback` writing each log of a stage as one JSONL row, keys prefixed by the stage."""
    from transformers import TrainerCallback

    class MetricsLog(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
            row = {"stage": stage, "step": state.global_step, **{f"{stage}/{k}": v for k, v in (logs or {}).items()}}
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")

    return MetricsLog()


def load_records(cfg: VLMConfig) -> Any:
    """The export's ``split`` as a `datasets.Dataset`, ``records`` of it drawn at random when asked."""
    import datasets

    if not (Path(cfg.data) / "data").is_dir():
        raise FileNotFoundError(f"--data {cfg.data} is not a `sole train export` folder (no data/ in it); "
                                "give <synth out>/hf/progress")
    ds = datasets.load_dataset(cfg.data, split=cfg.split)
    missing = {"prompt", "completion", "images", "progress", "facts_prev", "facts_cur", "goal_task"} - set(ds.features)
    if missing:
        raise ValueError(f"--data {cfg.data} lacks the columns {sorted(missing)}: export it again with `sole train "
                         "export` (progress records in the conversational format)")
    return ds.shuffle(seed=cfg.seed).select(range(min(cfg.records, len(ds)))) if cfg.records else ds


def base_model(cfg: VLMConfig, ds: Any) -> Path:
    """The folder to start from: ``base`` itself, or a tiny random model built (once) under ``out/base``."""
    if not cfg.base.startswith(TINY):
        if not (Path(cfg.base) / "config.json").is_file():
            raise FileNotFoundError(f"--base {cfg.base} is not a model folder (no config.json); give the folder "
                                    "save_pretrained wrote, or tiny-llava / tiny-qwen2.5-vl")
        return Path(cfg.base)
    from sole.models.tiny_vlm import build

    out = Path(cfg.out) / "base"
    if not (out / "config.json").is_file():
        texts = (m["content"][-1]["text"] for r in ds for m in r["prompt"] + r["completion"])
        build(cfg.base.removeprefix(TINY), out, texts, seed=cfg.seed)
    return out


def lora_config(cfg: VLMConfig) -> Any:
    """PEFT's LoRA config for the language model, or None without ``--lora``."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, target_modules=cfg.lora_targets,
                      lora_dropout=0.0, task_type="CAUSAL_LM")


def common_args(cfg: VLMConfig, stage: str, steps: int, lr: float) -> dict[str, Any]:
    """The `transformers.TrainingArguments` both stages share."""
    return {"output_dir": str(Path(cfg.out) / stage), "max_steps": steps, "learning_rate": lr,
            "gradient_accumulation_steps": cfg.grad_accum, "logging_steps": 1, "save_steps": cfg.save_every,
            "save_total_limit": 2, "report_to": "none", "seed": cfg.seed, "bf16": cfg.bf16,
            "gradient_checkpointing": cfg.gradient_checkpointing, "disable_tqdm": True,
            "model_init_kwargs": {"dtype": "bfloat16" if cfg.bf16 else "float32"}}


def run_stage(cfg: VLMConfig, trainer: Any, processor: Any, stage: str, final: Path) -> dict[str, float]:
    """Train (resuming from the stage's last checkpoint), merge LoRA adapters into the weights, save the model and
    its processor to ``final``; the stage's steps and throughput."""
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(cfg.out) / stage
    trainer.add_callback(metrics_log(Path(cfg.out) / "metrics.jsonl", stage))
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=get_last_checkpoint(str(out)) if out.is_dir() else None)
    model = trainer.model.merge_and_unload() if cfg.lora else trainer.model
    model.save_pretrained(final)
    processor.save_pretrained(final)
    return {"steps": result.global_step, "seconds": time.time() - t0,
            "steps_per_s": result.metrics["train_steps_per_second"]}


def sft(cfg: VLMConfig, model: Path, ds: Any, processor: Any, final: Path) -> dict[str, float]:
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(per_device_train_batch_size=cfg.batch, max_length=None,
                     **common_args(cfg, "sft", cfg.sft_steps, cfg.sft_lr))
    trainer = SFTTrainer(model=str(model), args=args, train_dataset=ds, processing_class=processor,
                         peft_config=lora_config(cfg))
    return run_stage(cfg, trainer, processor, "sft", final)


def grpo(cfg: VLMConfig, model: Path, ds: Any, processor: Any, final: Path) -> dict[str, float]:
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(per_device_train_batch_size=cfg.queries * cfg.group, num_generations=cfg.group,
                      max_completion_length=cfg.max_completion, temperature=cfg.temperature, top_p=cfg.top_p,
                      beta=cfg.kl, reward_weights=reward_weights(cfg),
                      **common_args(cfg, "grpo", cfg.grpo_steps, cfg.grpo_lr))
    trainer = GRPOTrainer(model=str(model), reward_funcs=list(REWARDS), args=args,
                          train_dataset=ds.remove_columns("completion"), processing_class=processor,
                          peft_config=lora_config(cfg))
    return run_stage(cfg, trainer, processor, "grpo", final)


def main(cfg: VLMConfig) -> dict[str, Any]:
    """SFT, then GRPO, each merged; returns the final folder and each trained stage's steps and throughput."""
    try:
        import torch
        from transformers import AutoProcessor
    except ImportError as err:
        raise ImportError(f"sole train vlm needs the hf extra ({err}): bash scripts/install.sh hf") from None
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))
    ds = load_records(cfg)
    model = base_model(cfg, ds)
    stages = [(name, train) for name, steps, train in (("sft", cfg.sft_steps, sft), ("grpo", cfg.grpo_steps, grpo))
              if steps]
    if not stages:
        raise ValueError("nothing to train: --sft-steps and --grpo-steps are both 0")
    result: dict[str, Any] = {}
    for i, (stage, train) in enumerate(stages):
        final = out / "final" if i == len(stages) - 1 else out / stage / "final"
        if not (final / "config.json").is_file():  # a finished stage is not trained again
            processor = AutoProcessor.from_pretrained(model, local_files_only=True)
            result[stage] = train(cfg, model, ds, processor, final)
            console.print(f"{stage}: {result[stage]['steps']} steps, {result[stage]['steps_per_s']:.3f} steps/s")
        model = final
    return {"final": str(model), **result}
