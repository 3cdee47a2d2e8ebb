"""The ``hf`` backend on a tiny randomly initialised LLaVA written to a local folder (no hub)."""

import numpy as np
import pytest

from sole.models.base import Clip, Query, prompt_text, reason
from sole.models.hf import HFReasoner
from sole.models.registry import load_reasoner


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    """A 2-layer LLaVA with a tokenizer trained on the prompt's words and a chat template, as `save_pretrained`
    writes it."""
    pytest.importorskip("transformers", reason="hf: needs transformers (bash scripts/install.sh hf)")
    from sole.models.tiny_vlm import build

    texts = [prompt_text("close the window", p / 10) + f"<answer>{p}%</answer>" for p in range(10)]
    return build("llava", tmp_path_factory.mktemp("vlm"), texts)


def _queries(n: int) -> list[Query]:
    rng = np.random.default_rng(0)
    frames = [{v: rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for v in ("external", "wrist")} for _ in range(3)]
    return [Query("close the window", *frames, prev_progress=0.1 * i) for i in range(n)]


def test_hf_reasoner_answers_from_a_local_folder(tiny_vlm, monkeypatch):
    monkeypatch.setenv("SOLE_HF_MAX_TOKENS", "6")
    monkeypatch.setenv("SOLE_HF_BATCH", "2")
    reasoner = load_reasoner(f"hf:{tiny_vlm}")
    assert isinstance(reasoner, HFReasoner) and reasoner.views == ("external", "wrist")
    queries = _queries(3)
    steps = reasoner.judge(queries)  # batches of 2 and 1
    assert len(steps) == 3 and all(s.text for s in steps)
    # a query decoded alone writes what it wrote in a batch (left padding is masked)
    assert reasoner.judge(queries[:1])[0].text == steps[0].text
    assert [s.text for s in reasoner.judge(queries, think=False)] == ["", "", ""]
    # the contract's loop over a clip runs through it
    clip = Clip({v: np.stack([q.current[v] for q in queries]) for v in ("external", "wrist")})
    assert len(reason(reasoner, [clip], ["close the window"])[0].per_frame) == 3


def test_progress_is_read_from_the_answer_or_falls_back(tiny_vlm, monkeypatch):
    reasoner = HFReasoner(tiny_vlm, max_new_tokens=2)
    monkeypatch.setattr(reasoner, "complete", lambda qs: ["<think>closed.</think><answer>42%</answer>", "no answer"])
    steps = reasoner.judge(_queries(2))
    assert [s.progress for s in steps] == [0.42, 0.1]  # the second falls back to its previous progress


def test_bad_specs_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="needs a local model folder"):
        load_reasoner("hf")
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        load_reasoner(f"hf:{tmp_path}")
