import json

import pytest

from sole.eval.gate import GateCheckConfig, main
from sole.models.gated import CLOSED


def test_check_gate_caps_a_look_away_and_opens_for_a_pressed_button(tmp_path):
    out = tmp_path / "gate.json"
    summary = main(GateCheckConfig(tasks="button-press", seeds=1, out=str(out)))
    assert summary["both"] == 1 and summary["not_opened"] == summary["open_on_look_away"] == []
    row = json.loads(out.read_text())["tasks"]["button-press"]
    assert row == {"solved_cap": 1.0, "experts_solved": 1, "look_away_cap": pytest.approx(CLOSED)}
