import pytest

from sole.data.bench import BenchConfig, main


def test_bench_reports_both_rates_and_their_ratio(tmp_path):
    out = tmp_path / "bench.json"
    result = main(BenchConfig(tasks="reach", episodes=1, env_steps=40, workers=(), out=str(out)))
    assert result["bench/bare_render_fps"] > 0 and result["bench/synth_fps"] > 0
    # the rates are rounded to 0.1 frames/s and the ratio is not, so on a slow machine they agree only roughly
    assert result["bench/synth_over_bare"] == pytest.approx(result["bench/synth_fps"] / result["bench/bare_render_fps"],
                                                           rel=0.05)
    assert out.exists()
