import json
import math

import pytest

from sole.envs.check import TARGETS, CheckConfig, main, nan_means


def test_check_one_task_writes_table_json(tmp_path):
    out = tmp_path / "check.json"
    report = main(CheckConfig(tasks="window-close", seeds=1, workers=1, agent_steps=60, out=str(out)))
    saved = json.loads(out.read_text())
    task = saved["tasks"]["window-close"]
    assert task["success"] == 1.0 and task["start"] < 0.15 and task["at_success"] >= 0.95
    assert task["gate_errors"] == 0 and task["undo_drop"] > 0.25 and task["undo_spearman"] < 0
    assert set(report["summary"]["targets"]) == set(TARGETS)


def test_check_rejects_unknown_tasks():
    with pytest.raises(ValueError, match="valid tasks"):
        main(CheckConfig(tasks="window-shut"))


@pytest.mark.slow
def test_all_fifty_tasks_meet_the_targets(tmp_path):
    """The full suite check (50 tasks x 10 seeds, ~10 minutes on 2 cores)."""
    report = main(CheckConfig(out=str(tmp_path / "check.json")))
    assert all(t["pass"] for t in report["summary"]["targets"].values()), report["summary"]
    assert report["summary"]["gate_errors"] == 0


def test_nan_means_skip_undefined_values_per_metric():
    means = nan_means([{"a": 1.0, "b": float("nan")}, {"a": 3.0, "b": float("nan")}, {"a": float("nan"), "b": 2.0}])
    assert means == {"a": 2.0, "b": 2.0}
    assert math.isnan(nan_means([{"a": float("nan")}])["a"])
