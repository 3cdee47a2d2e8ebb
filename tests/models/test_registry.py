import pytest

from sole.models.registry import load_reasoner


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown reasoner 'nope'"):
        load_reasoner("nope")


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown compact checkpoint 'fold-z'"):
        load_reasoner("compact:fold-z")


def test_checkpoint_directory(tmp_path):
    import torch

    from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
    from sole.models.tokenizer import WordTokenizer

    torch.manual_seed(0)
    CompactModel.build(CompactConfig.tiny(), WordTokenizer.fit(["a"]), new_goal_vocab(["x"])).save_pretrained(tmp_path)
    assert load_reasoner(str(tmp_path)).views == ("external", "wrist")
