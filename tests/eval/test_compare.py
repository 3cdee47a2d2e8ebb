import json
import math

import pytest

from sole.eval.compare import EvalCompareConfig, main


def _run(folder, vocs: dict[str, float]) -> str:
    folder.mkdir()
    tasks = [{"task": t, "voc": v} for t, v in vocs.items()]
    mean = {"voc": sum(vocs.values()) / len(vocs), "hack_acc": 0.8, "confusion": 0.1, "auroc": 0.7}
    (folder / "metrics.json").write_text(json.dumps({"tasks": tasks, "mean": mean}))
    return str(folder)


def test_compare_splits_voc_by_opposite_verb_tasks_and_writes_json_and_plot(tmp_path):
    a = _run(tmp_path / "a", {"window-close": 0.2, "reach": 0.8, "box-close": float("nan")})
    b = _run(tmp_path / "b", {"window-close": 0.6, "reach": 1.0, "box-close": 0.4})
    rows = main(EvalCompareConfig(runs=(a, b), labels=("small", "big"), out=str(tmp_path / "out")))
    assert [r["label"] for r in rows] == ["small", "big"]
    assert rows[0]["voc/opposite-tasks"] == pytest.approx(0.2)  # window-close has window-open
    assert rows[0]["voc/other-tasks"] == pytest.approx(0.8)  # a NaN VOC (no solved expert) is left out
    assert rows[1]["voc/other-tasks"] == pytest.approx(0.7)
    saved = json.loads((tmp_path / "out" / "compare.json").read_text())
    assert saved[1]["mean"]["voc"] == pytest.approx(2.0 / 3)
    assert (tmp_path / "out" / "compare.png").stat().st_size > 0


def test_compare_refuses_other_task_sets_missing_runs_and_wrong_labels(tmp_path):
    a = _run(tmp_path / "a", {"window-close": 0.2, "reach": 0.8})
    b = _run(tmp_path / "b", {"window-close": 0.6})
    with pytest.raises(ValueError, match="other tasks .*reach.*not comparable"):
        main(EvalCompareConfig(runs=(a, b), out=str(tmp_path / "out")))
    with pytest.raises(FileNotFoundError, match="metrics.json not found"):
        main(EvalCompareConfig(runs=(a, str(tmp_path / "nowhere")), out=str(tmp_path / "out")))
    with pytest.raises(ValueError, match="1 labels for 2 runs"):
        main(EvalCompareConfig(runs=(a, a), labels=("x",), out=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()  # nothing written on bad input
    assert math.isnan(main(EvalCompareConfig(runs=(b,), out=str(tmp_path / "o2")))[0]["voc/other-tasks"])
