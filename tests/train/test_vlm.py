"""`sole train vlm` on a tiny random vision-language model over a real export of synthetic episodes: SFT, LoRA,
GRPO with the project's verifier as reward, the merge, then scoring the result through ``hf:``."""

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

for _name in ("transformers", "trl", "peft", "datasets"):
    pytest.importorskip(_name, reason=f"sole train vlm needs {_name}: bash scripts/install.sh hf")

from sole.models.base import Query  # noqa: E402
from sole.models.hf import HFReasoner  # noqa: E402
from sole.models.registry import load_reasoner  # noqa: E402
from sole.models.tiny_vlm import build  # noqa: E402
from sole.train.records import export_hf, sft_records  # noqa: E402
from sole.train.vlm import REWARDS, VLMConfig, load_records, main  # noqa: E402


@pytest.fixture(scope="module")
def export(episodes, tmp_path_factory):
    """The `sole train export` output of two window-close episodes, for their own and the opposite goal."""
    eps = [e for e in episodes if e.task == "window-close"][:2]
    records = [r for e in eps for goal in ("window-close", "window-open")
               for r in sft_records(e, goal, mode="subsampled", n_query=4)]
    out = tmp_path_factory.mktemp("export")
    export_hf(records, out)
    return out


@pytest.fixture(scope="module")
def run(export, tmp_path_factory):
    cfg = VLMConfig.tiny(str(export), str(tmp_path_factory.mktemp("run")))
    return cfg, main(cfg)


def test_the_export_is_what_sft_trainer_reads(export, tmp_path):
    """The collator SFTTrainer uses puts the image's tokens into the prompt and trains on the completion alone."""
    from transformers import AutoProcessor
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    ds = load_records(VLMConfig(base="", data=str(export)))
    processor = AutoProcessor.from_pretrained(build("llava", tmp_path, ["<think>t=1: x</think><answer>5%</answer>"]))
    batch = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)([ds[0], ds[1]])
    image_token = processor.tokenizer.convert_tokens_to_ids("<image>")
    assert ((batch["input_ids"] == image_token).sum(1) == 16).all()  # 16 patches of one composite per record
    assert batch["pixel_values"].shape[0] == 2
    trained = processor.batch_decode(np.where(batch["labels"] >= 0, batch["labels"], processor.tokenizer.pad_token_id),
                                     skip_special_tokens=True)
    assert [t.strip() for t in trained] == [ds[i]["completion"][0]["content"][0]["text"] for i in (0, 1)]


def test_rewards_score_the_reference_completion_fully_and_a_wrong_answer_less(export):
    ds = load_records(VLMConfig(base="", data=str(export)))
    rows = [ds[i] for i in range(len(ds))]
    columns = {k: [r[k] for r in rows] for k in ("progress", "facts_prev", "facts_cur", "goal_task")}
    good = [r["completion"] for r in rows]
    assert [fn(None, good, **columns) for fn in REWARDS] == [[1.0] * len(rows)] * 3
    text = "<think>t=1: the window got 99 cm closer to the goal.</think><answer>-100%</answer>"
    wrong = [[{"role": "assistant", "content": text}]] * len(rows)
    accuracy, fmt, facts = (fn(None, wrong, **columns) for fn in REWARDS)
    assert max(accuracy) < 1.0 and fmt == [1.0] * len(rows) and max(facts) < 1.0


def test_sft_then_grpo_with_lora_merges_into_a_model_hf_reads(run, monkeypatch):
    cfg, result = run
    assert (result["sft"]["steps"], result["grpo"]["steps"]) == (cfg.sft_steps, cfg.grpo_steps)
    rows = [json.loads(line) for line in open(f"{cfg.out}/metrics.jsonl")]
    assert [r["step"] for r in rows if "sft/loss" in r] == list(range(1, cfg.sft_steps + 1))
    grpo = [r for r in rows if "grpo/loss" in r]
    assert len(grpo) == cfg.grpo_steps and all(f"grpo/rewards/{fn.__name__}/mean" in grpo[0] for fn in REWARDS)
    assert json.load(open(f"{cfg.out}/config.json")) == asdict(cfg)
    # merged: a plain model folder, no adapters, whose language model moved away from the random start
    files = {p.name for p in Path(result["final"]).iterdir()}
    assert "model.safetensors" in files and "adapter_config.json" not in files
    from safetensors.torch import load_file

    base, final = load_file(f"{cfg.out}/base/model.safetensors"), load_file(f"{result['final']}/model.safetensors")
    moved = [k for k in base if "language_model" in k and "q_proj" in k and not (base[k] == final[k]).all()]
    assert moved
    _scores_through_hf(result["final"], monkeypatch)


def _scores_through_hf(path, monkeypatch):
    """The folder loads as ``hf:PATH`` and answers a query of the contract."""
    monkeypatch.setenv("SOLE_HF_MAX_TOKENS", "8")
    reasoner = load_reasoner(f"hf:{path}")
    assert isinstance(reasoner, HFReasoner)
    rng = np.random.default_rng(0)
    frames = [{v: rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for v in reasoner.views} for _ in range(3)]
    steps = reasoner.judge([Query("close the window", *frames, prev_progress=0.3)])
    assert len(steps) == 1 and steps[0].text and -1.0 <= steps[0].progress <= 1.0


def test_a_rerun_resumes_past_finished_stages(run):
    cfg, first = run
    again = main(cfg)
    assert again == {"final": first["final"]}  # nothing trained again


def test_an_interrupted_stage_continues_from_its_last_checkpoint(export, tmp_path):
    cfg = replace(VLMConfig.tiny(str(export), str(tmp_path)), sft_steps=2, grpo_steps=0)
    main(cfg)
    shutil.rmtree(tmp_path / "final")  # as if stopped after the checkpoint of step 2
    result = main(replace(cfg, sft_steps=3))
    assert result["sft"]["steps"] == 3
    rows = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
    assert [r["step"] for r in rows if "sft/loss" in r] == [1, 2, 3]  # the rerun trained step 3 alone


def test_bad_inputs_are_clear_errors(export, tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model folder"):
        main(VLMConfig(base=str(tmp_path), data=str(export), out=str(tmp_path / "run")))
    with pytest.raises(FileNotFoundError, match="sole train export"):
        main(VLMConfig(base="tiny-llava", data=str(tmp_path), out=str(tmp_path / "run")))
    with pytest.raises(ValueError, match="unknown tiny model family"):
        main(replace(VLMConfig.tiny(str(export), str(tmp_path / "run")), base="tiny-gpt"))


def test_a_tiny_qwen2_5_vl_runs_the_same_path(export, tmp_path, monkeypatch):
    pytest.importorskip("torchvision", reason="Qwen-VL processors need torchvision (bash scripts/install.sh hf)")
    cfg = replace(VLMConfig.tiny(str(export), str(tmp_path), family="qwen2.5-vl"), sft_steps=2, grpo_steps=1)
    _scores_through_hf(main(cfg)["final"], monkeypatch)
