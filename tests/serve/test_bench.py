import json
import time

import pytest

from sole.models.base import Step
from sole.serve.app import ServeConfig, build_app
from sole.serve.bench import BenchConfig, main


class Ticking:
    views = ("external", "wrist")

    def judge(self, queries, *, think=True):
        time.sleep(0.02)
        return [Step(progress=0.5, text="<answer>50%</answer>") for _ in queries]


def test_bench_serve_counts_every_answer(serving, tmp_path):
    out = tmp_path / "serve.json"
    with serving(build_app(Ticking(), ServeConfig())) as url:
        report = main(BenchConfig(clients=3, requests=2, frames=3, url=url, out=str(out)))
    assert report["requests"] == 6 and report["status"] == {"200": 6} and report["share_5xx"] == 0
    assert 0 < report["p50_s"] <= report["p99_s"] and report["ok_per_s"] > 0
    assert json.loads(out.read_text())["status"] == {"200": 6}


def test_bench_serve_counts_refusals(serving, tmp_path):
    with serving(build_app(Ticking(), ServeConfig(max_queue=1))) as url:
        report = main(BenchConfig(clients=4, requests=2, frames=6, url=url, out=str(tmp_path / "serve.json")))
    assert report["status"]["429"] > 0 and sum(report["status"].values()) == 8 and report["share_429"] > 0


def test_bench_serve_checks_its_settings(tmp_path):
    with pytest.raises(ValueError, match="frames >= 2"):
        main(BenchConfig(frames=1, out=str(tmp_path / "x.json")))


@pytest.mark.slow
def test_bench_serve_starts_the_server_it_reads(tiny_checkpoint, tmp_path):
    report = main(BenchConfig(clients=2, requests=2, frames=3, model=tiny_checkpoint, out=str(tmp_path / "s.json")))
    assert report["status"] == {"200": 4}
