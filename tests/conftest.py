import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A randomly initialised tiny compact checkpoint directory."""
    import torch

    from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
    from sole.models.tokenizer import WordTokenizer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck")
    tok = WordTokenizer.fit(["<think>t=1: the window moved 2 cm.</think><answer>5%</answer>"])
    CompactModel.build(CompactConfig.tiny(), tok, new_goal_vocab(["close the window"])).save_pretrained(path)
    return str(path)
