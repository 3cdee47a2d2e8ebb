import json

import pytest

from sole.envs.tasks import get_task, resolve_tasks
from sole.models.compact import CompactModel
from sole.models.registry import CHECKPOINTS, COMPACT, checkpoint_dir, load_reasoner, spec_for_task, wrap_spec


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown reasoner 'nope'.*a shipped checkpoint \\(default, held-out-a"):
        load_reasoner("nope")


def test_a_shipped_checkpoint_is_named_alone():
    bare, full = load_reasoner("held-out-b"), load_reasoner("compact:held-out-b")
    assert all(bare.model.state_dict()[k].equal(v) for k, v in full.model.state_dict().items())


def test_unknown_variant_names_the_shipped_ones():
    with pytest.raises(ValueError, match="unknown compact checkpoint 'fold-a-mined2'; valid: default, held-out-a"):
        load_reasoner("compact:fold-a-mined2")


def test_checkpoint_directory(tiny_checkpoint):
    assert load_reasoner(tiny_checkpoint).views == ("external", "wrist")


def test_shipped_checkpoints_are_the_registry_and_load():
    assert sorted(p.name for p in CHECKPOINTS.iterdir() if p.is_dir()) == sorted(COMPACT)
    for variant in COMPACT:
        CompactModel.from_pretrained(checkpoint_dir(variant))  # the lineage in config.json is read past
    assert load_reasoner("min:compact:held-out-a+compact:held-out-b").views == ("external", "wrist")


@pytest.mark.parametrize("task, directory, trained_on", [("window-close", "held-out-a", "fold-b"),
                                                         ("sweep-into", "held-out-b", "fold-a")])
def test_held_out_reads_a_task_with_the_checkpoint_that_never_saw_its_fold(task, directory, trained_on):
    assert get_task(task).fold == directory[-1]
    spec = spec_for_task("held-out", task)
    name, _, variant = spec.partition(":")
    assert (name, checkpoint_dir(variant)) == ("compact", CHECKPOINTS / directory)
    meta = json.loads((checkpoint_dir(variant) / "config.json").read_text())
    assert meta["train"]["data"]["tasks"] == trained_on
    assert {"data", "command", "commit", "former_name"} <= set(meta["lineage"])
    assert f"--data.tasks {trained_on}" in meta["lineage"]["command"]


@pytest.mark.parametrize("fold", ["a", "b"])
def test_held_out_spec_never_reads_a_task_with_a_model_that_saw_it(fold):
    for task in resolve_tasks(f"fold-{fold}"):
        variant = spec_for_task("held-out", task).partition(":")[2]
        trained = json.loads((checkpoint_dir(variant) / "config.json").read_text())["train"]["data"]["tasks"]
        assert task not in resolve_tasks(trained)


def test_held_out_and_fold_in_composite_specs():
    assert spec_for_task("", "sweep-into") == "compact:held-out-b"
    assert spec_for_task("min:compact:held-out-{fold}+runs/x-{fold}/final", "window-open") == \
        "min:compact:held-out-b+runs/x-b/final"
    assert spec_for_task("compact", "window-open") == "compact"
    assert spec_for_task("min:held-out+runs/held-out/final", "window-open") == \
        "min:compact:held-out-b+runs/held-out/final"  # a path that says held-out stays a path


def test_long_ensemble_label_wraps_after_its_joins():
    spec = "sole=gated:median:compact:held-out-{fold}+runs/sft-s1-{fold}/final+runs/sft-s2-{fold}/final"
    lines = wrap_spec(spec, width=48).split("\n")
    assert lines == ["sole=gated:median:compact:held-out-{fold}+", "runs/sft-s1-{fold}/final+",
                     "runs/sft-s2-{fold}/final"]
    assert "".join(lines) == spec
    assert wrap_spec("oracle-dense") == "oracle-dense"
