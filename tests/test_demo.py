import json

from sole.demo import DemoConfig, main


def test_demo_writes_report_with_videos(tiny_checkpoint, tmp_path):
    cfg = DemoConfig(tasks="reach", kinds="expert,hover", held_out_model=tiny_checkpoint,
                     default_model=tiny_checkpoint, out=str(tmp_path), env_steps=8)
    page = main(cfg)
    scores = json.loads((tmp_path / "scores.json").read_text())["episodes"]
    assert [(e["task"], e["kind"]) for e in scores] == [("reach", "expert"), ("reach", "hover")]
    text = page.read_text()
    assert all(e["video"] in text and (tmp_path / e["video"]).stat().st_size > 0 for e in scores)
