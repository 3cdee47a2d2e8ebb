import importlib

import pytest

from sole import cli
from sole.eval.protocol import Validation


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_names_a_config_and_a_main_that_exist(name):
    module, config, fn = cli.COMMANDS[name]
    assert isinstance(getattr(importlib.import_module(module), config), type)
    fn_module, _, fn_name = fn.rpartition(":")
    assert callable(getattr(importlib.import_module(fn_module or module), fn_name))


@pytest.mark.parametrize("command, module", [("train sft", "sole.train.sft"), ("train grpo", "sole.train.grpo")])
def test_training_commands_validate_with_the_evaluation_protocol(monkeypatch, command, module, tmp_path):
    handed = []
    monkeypatch.setattr(importlib.import_module(module), "main", lambda cfg, validate: handed.append(validate))
    cli.main([*command.split(), "--out", str(tmp_path), "--sample.held-out-goal", "1"])
    assert len(handed) == 1 and isinstance(handed[0], Validation)
    assert handed[0].spec.goal_index == 1  # validation reads the goal wording training held out
