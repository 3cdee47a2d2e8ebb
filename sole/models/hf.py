"""The ``hf`` backend: a transformers vision-language model from a local folder as a `Reasoner`.

Spec (`sole.models.registry`): ``hf:PATH``, a folder holding a model and its processor as ``save_pretrained``
writes them (any ``AutoModelForImageTextToText`` whose processor has a chat template: a fine-tuned Qwen-VL, the
published SOLE-R1 weights, ...). Nothing is fetched from a hub. Install with ``bash scripts/install.sh hf``.

Each query is the messages of `sole.models.base.query_messages`, as in our exported records and ``api:``: the system
turn, then one user turn holding the composite image (a row per view of first | previous | current frame, the
external view above the wrist view) before the SOLE-R1 prompt text (`sole.models.base.prompt_text`), through the
processor's chat template. Decoding is greedy; progress comes from ``<answer>N%</answer>`` and falls back to the
previous progress when there is none, as the contract says. A VLM has no fast head, so ``think=False`` decodes as
well and only leaves the text out. ``SOLE_HF_MAX_TOKENS`` (default 256) bounds a completion, ``SOLE_HF_BATCH``
(default 8) the queries decoded together, ``SOLE_HF_DEVICE`` (default: cuda when there is one) picks the device.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image

from sole.models.base import VIEW_ROWS, Query, Step, answer_step, composite, prompt_text, query_messages


class HFReasoner:
    """A `Reasoner` over a local transformers image-text-to-text model, greedy, ``batch_size`` queries at a time."""

    views = VIEW_ROWS

    def __init__(self, path: str | Path, *, max_new_tokens: int = 256, batch_size: int = 8, device: str | None = None):
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"hf: {path} is not a model folder (no config.json); give the folder that "
                                    "save_pretrained wrote, e.g. hf:/models/sole-r1")
        try:
            from transformers import AutoModelForImageTextToText, AutoProcessor
        except ImportError as err:
            raise ImportError(f"hf: needs transformers ({err}); install with `bash scripts/install.sh hf`") from None
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        if getattr(self.processor, "chat_template", None) is None:
            raise ValueError(f"hf: the processor in {path} has no chat template to put a query into")
        self.processor.tokenizer.padding_side = "left"  # decoder-only batches grow on the right
        self.model = AutoModelForImageTextToText.from_pretrained(path, local_files_only=True).to(self.device).eval()
        self.max_new_tokens, self.batch_size = max_new_tokens, batch_size

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        steps = []
        for i in range(0, len(queries), self.batch_size):
            batch = queries[i: i + self.batch_size]
            steps += [answer_step(text, q.prev_progress, keep_text=think)
                      for q, text in zip(batch, self.complete(batch), strict=True)]
        return steps

    @torch.no_grad()
    def complete(self, queries: list[Query]) -> list[str]:
        """The greedy completions of a batch of queries (special tokens dropped)."""
        messages = [query_messages(prompt_text(q.goal, q.prev_progress)) for q in queries]
        texts = [self.processor.apply_chat_template(m, add_generation_prompt=True) for m in messages]
        images = [Image.fromarray(composite(q.first, q.previous, q.current, self.views)) for q in queries]
        inputs = self.processor(text=texts, images=images, return_tensors="pt", padding=True).to(self.device)
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        return self.processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def from_spec(path: str) -> HFReasoner:
    """``hf:PATH`` -> a reasoner, with the limits from the environment (module docstring)."""
    if path == "default":
        raise ValueError("hf: needs a local model folder, e.g. hf:/models/sole-r1")
    return HFReasoner(path, max_new_tokens=int(os.environ.get("SOLE_HF_MAX_TOKENS", "256")),
                      batch_size=int(os.environ.get("SOLE_HF_BATCH", "8")), device=os.environ.get("SOLE_HF_DEVICE"))
