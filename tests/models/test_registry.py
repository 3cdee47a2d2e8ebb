import json

import pytest

from sole.envs.tasks import resolve_tasks
from sole.models.registry import CHECKPOINTS, COMPACT_VARIANTS, load_reasoner, spec_for_task, wrap_spec


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


def test_held_out_spec_names_the_fold_that_never_saw_the_task():
    assert spec_for_task("held-out", "window-close") == "compact:fold-b-mined2"  # window-close is in fold a
    assert spec_for_task("", "sweep-into") == "compact:fold-a-mined2"
    assert spec_for_task("min:compact:fold-{fold}+compact:fold-{fold}-s1", "window-open") == \
        "min:compact:fold-a+compact:fold-a-s1"
    assert spec_for_task("compact", "window-open") == "compact"
    assert spec_for_task("min:held-out+runs/held-out/final", "window-open") == \
        "min:compact:fold-a-mined2+runs/held-out/final"  # a path that says held-out stays a path


@pytest.mark.parametrize("variant", [v for v in COMPACT_VARIANTS if v.startswith("fold-")])
def test_shipped_fold_model_trained_only_on_its_own_fold(variant):
    fold = variant.split("-")[1]
    trained = json.loads((CHECKPOINTS / variant / "config.json").read_text())["train"]["data"]["tasks"]
    assert trained == f"fold-{fold}"


@pytest.mark.parametrize("fold", ["a", "b"])
def test_held_out_spec_never_reads_a_task_with_a_model_that_saw_it(fold):
    for task in resolve_tasks(f"fold-{fold}"):
        assert f"fold-{fold}" not in spec_for_task("held-out", task)


def test_long_ensemble_label_wraps_after_its_joins():
    spec = "sole=gated:median:compact:fold-{fold}+compact:fold-{fold}-s1+compact:fold-{fold}-mined"
    lines = wrap_spec(spec, width=48).split("\n")
    assert lines == ["sole=gated:median:compact:fold-{fold}+", "compact:fold-{fold}-s1+compact:fold-{fold}-mined"]
    assert "".join(lines) == spec
    assert wrap_spec("oracle-dense") == "oracle-dense"
