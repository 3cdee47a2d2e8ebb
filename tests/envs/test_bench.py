import pytest

from sole.envs.bench import BenchConfig, main


def test_bench_measures_physics_and_rendering(tmp_path):
    report = main(BenchConfig(task="reach", sizes=(32,), workers=(1,), steps=20, out=str(tmp_path / "b.json")))
    rates = report["steps_per_s"]
    assert set(rates) == {"physics", "render 32"}
    assert rates["physics"]["1 proc"] > rates["render 32"]["1 proc"] > 0


def test_bench_rejects_bad_size():
    with pytest.raises(ValueError, match="valid sizes"):
        main(BenchConfig(sizes=(100,)))
