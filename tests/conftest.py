import os

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _tiny_checkpoint(tmp_path_factory, views: tuple[str, ...]) -> str:
    """A randomly initialised tiny compact checkpoint directory reading ``views``."""
    from dataclasses import replace

    import torch

    from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
    from sole.models.tokenizer import WordTokenizer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ck")
    tok = WordTokenizer.fit(["<think>t=1: the window moved 2 cm.</think><answer>5%</answer>"])
    cfg = replace(CompactConfig.tiny(), views=views)
    CompactModel.build(cfg, tok, new_goal_vocab(["close the window"])).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny compact checkpoint reading the default views (external, wrist)."""
    return _tiny_checkpoint(tmp_path_factory, ("external", "wrist"))


@pytest.fixture(scope="session")
def tiny_scene_checkpoint(tmp_path_factory):
    """A tiny compact checkpoint reading only the scene view."""
    return _tiny_checkpoint(tmp_path_factory, ("scene",))
