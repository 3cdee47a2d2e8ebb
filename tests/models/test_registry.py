import pytest

from sole.models.registry import load_reasoner


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown reasoner 'nope'"):
        load_reasoner("nope")


def test_unknown_variant():
    with pytest.raises(ValueError, match="unknown compact checkpoint 'fold-z'"):
        load_reasoner("compact:fold-z")


def test_checkpoint_directory(tiny_checkpoint):
    assert load_reasoner(tiny_checkpoint).views == ("external", "wrist")


def test_shipped_fold_models_load_and_pair_in_an_ensemble():
    assert load_reasoner("min:compact:fold-b+compact:fold-b-s1").views == ("external", "wrist")
