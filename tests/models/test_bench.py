import json

from sole.models.bench import BenchConfig, main


def test_bench_reports_throughput_and_latency(tiny_checkpoint, tmp_path):
    out = main(BenchConfig(model=tiny_checkpoint, batch=32, steps=3, threads=1, out=str(tmp_path / "b.json")))
    assert out["batched_queries_per_s"] > 0
    assert out["stream_think"]["median_ms"] > 0 and out["stream_no_think"]["mean_words"] == 0
    assert json.loads((tmp_path / "b.json").read_text())["config"]["batch"] == 32
