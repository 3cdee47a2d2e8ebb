"""Tiny randomly initialised vision-language models with a tokenizer trained on the data, written to a folder.

For checking the `sole train vlm` path end to end without downloading weights: the folder holds what
``save_pretrained`` writes for a model and its processor, so SFT, GRPO, the merge and ``hf:PATH`` read it as they
read a real checkpoint. The tokenizer is a byte-level BPE trained on the given texts (any text round-trips), with
the special tokens of the family and one chat template for both families (`CHAT_TEMPLATE`).

Families (`FAMILIES`): ``llava`` (CLIP vision tower, Llama text model; its processor needs only PIL) and
``qwen2.5-vl`` (the architecture of the 7B/8B recipe; its processor needs torchvision).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% if m['content'] is string %}{{ m['content'] }}"
                 "{% else %}{% for c in m['content'] %}{% if c['type'] == 'image' %}IMAGE{% elif c['type'] == 'text' %}"
                 "{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
"""A ChatML template (Qwen's turn markers); ``IMAGE`` stands for the family's image tokens."""
TURNS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
"""Padding, turn start, turn end (the end of a completion)."""
SIZE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_key_value_heads": 1, "max_position_embeddings": 4096}
"""The text model's shape."""


def tokenizer(texts: Iterable[str], special: tuple[str, ...], vocab: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE of about ``vocab`` tokens trained on ``texts``, ``special`` first, as a transformers
    tokenizer that pads with ``<|endoftext|>`` and ends a completion with ``<|im_end|>``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab, special_tokens=list(special),
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=TURNS[0], eos_token=TURNS[2])


def llava(out: Path, texts: Iterable[str]) -> None:
    """A 2-layer LLaVA reading 56 px images as 16 tokens."""
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tok = tokenizer(texts, (*TURNS, "<image>"))
    tok.image_token = "<image>"
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                                       image_size=56, patch_size=14, projection_dim=32),
        text_config=LlamaConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                                bos_token_id=None, **SIZE),
        image_token_index=tok.convert_tokens_to_ids("<image>"))
    processor = LlavaProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 56},
                                                                   crop_size={"height": 56, "width": 56}),
                               tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=CHAT_TEMPLATE.replace("IMAGE", "<image>"))
    _save(LlavaForConditionalGeneration(config), processor, out)


def qwen2_5_vl(out: Path, texts: Iterable[str]) -> None:
    """A 2-layer Qwen2.5-VL reading an image as 4 to 16 tokens (28 px per token)."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    vision = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
    tok = tokenizer(texts, (*TURNS, *vision))
    ids = dict(zip(("vision_start_token_id", "vision_end_token_id", "image_token_id", "video_token_id"),
                   tok.convert_tokens_to_ids(list(vision)), strict=True))
    config = Qwen2_5_VLConfig(
        text_config={"vocab_size": len(tok), "rope_scaling": {"type": "mrope", "mrope_section": [2, 3, 3]},
                     "pad_token_id": tok.pad_token_id, "eos_token_id": tok.eos_token_id, "bos_token_id": None, **SIZE},
        vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32,
                       "fullatt_block_indexes": [0], "window_size": 56},
        **ids)
    image = "<|vision_start|><|image_pad|><|vision_end|>"
    pixels = {"min_pixels": 4 * 28 * 28, "max_pixels": 16 * 28 * 28}
    processor = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessorPil(**pixels), tokenizer=tok,
                                    video_processor=Qwen2VLVideoProcessor(**pixels),
                                    chat_template=CHAT_TEMPLATE.replace("IMAGE", image))
    _save(Qwen2_5_VLForConditionalGeneration(config), processor, out)


def _save(model: object, processor: object, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)


FAMILIES: dict[str, Callable[[Path, Iterable[str]], None]] = {"llava": llava, "qwen2.5-vl": qwen2_5_vl}


def build(family: str, out: str | Path, texts: Iterable[str], seed: int = 0) -> Path:
    """A tiny random ``family`` model (`FAMILIES`) with a tokenizer trained on ``texts``, saved to ``out``."""
    import torch

    if family not in FAMILIES:
        raise ValueError(f"unknown tiny model family {family!r}; valid: {', '.join(FAMILIES)}")
    torch.manual_seed(seed)
    FAMILIES[family](Path(out), texts)
    return Path(out)
