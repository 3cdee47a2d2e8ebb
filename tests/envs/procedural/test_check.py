import json

from sole.envs.procedural.check import ProcCheckConfig, main, passes


def test_check_reports_per_verb_rejections_and_throughput(tmp_path):
    report = main(ProcCheckConfig(tasks=1, first=1, seeds=1, workers=1, out=str(tmp_path)))
    summary = report["summary"]
    assert list(summary["verbs"]) == ["stack"] and summary["verbs"]["stack"]["tasks"] == 1
    assert summary["pass"]["stack"]["success"] and summary["throughput"]["tasks_per_s"] > 0
    written = json.loads((tmp_path / "report.json").read_text())
    assert written["tasks"][0]["seed"] == 1 and written["tasks"][0]["verb"] == "stack"
    again = main(ProcCheckConfig(tasks=1, first=1, seeds=1, workers=1, out=str(tmp_path)))  # resumes: nothing to do
    assert again["summary"]["throughput"]["tasks_this_run"] == 0 and again["summary"]["verbs"] == summary["verbs"]


def test_passes_applies_the_label_targets():
    good = {"success": 1.0, "start": 0.0, "at_success": 1.0, "spearman": 0.95, "random_final": 0.1,
            "undo_drop": 0.6, "gate_errors": 0.0}
    assert all(passes(good).values())
    bad = passes({**good, "random_final": 0.5, "success": 0.8})
    assert not bad["random_final"] and not bad["success"] and bad["spearman"]
