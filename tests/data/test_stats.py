import json

from sole.data.stats import StatsConfig, main


def test_stats_counts_kinds_tasks_labels_and_cot_lengths(dataset, tmp_path):
    root, eps = dataset
    stats = main(StatsConfig(root=str(root), out=str(tmp_path), cot_frames=20))
    assert stats["episodes"] == 3 and stats["frames"] == 15
    assert stats["episodes_per_kind"] == {"expert": 2, "undo": 1}
    assert stats["episodes_per_task"] == {"drawer-open": 3}
    assert sum(stats["progress_histogram"]) == 15 and sum(stats["counterfactual_histogram"]) == 15
    assert stats["final_progress_per_kind"]["expert"] == 1.0
    assert 10 <= stats["cot_words"]["mean"] <= 50
    assert stats["cot_checked"] == 2 * 12 and stats["cot_rejected"] == 0
    assert json.loads((tmp_path / "stats.json").read_text()) == stats
    assert (tmp_path / "stats.png").stat().st_size > 1000
