import json

import pyarrow.parquet as pq
import pytest

from sole.data.build import SynthConfig
from sole.data.build import main as synth
from sole.data.cot import verify_cot
from sole.envs.sim import make_env
from sole.models.base import SYSTEM_PROMPT
from sole.synth.rollouts import rollout
from sole.train.records import ExportConfig, export_hf, main, query_pairs, sft_records


@pytest.fixture(scope="module")
def episode():
    env = make_env("drawer-close")
    ep = rollout(env, "expert", seed=0, steps=40)
    env.close()
    return ep


def test_query_pairs_modes():
    assert query_pairs(4, "dense") == [(0, 1), (1, 2), (2, 3)]
    sub = query_pairs(101, "subsampled")
    assert len(sub) == 10 and sub[0] == (0, 10) and sub[-1] == (90, 100)
    assert all(p == q for (_, p), (q, _) in zip(sub, sub[1:], strict=False))  # previous = last queried frame
    with pytest.raises(ValueError, match="valid modes"):
        query_pairs(5, "sparse")


@pytest.mark.parametrize("goal", ["drawer-close", "drawer-open", "reach"])
def test_records_carry_prompt_image_completion_and_label(episode, goal):
    recs = sft_records(episode, goal, mode="subsampled", n_query=5)
    label = episode.label(goal)
    assert [r["t"] for r in recs] == [4, 8, 12, 16, 20]
    assert "previous timestep is 0%" in recs[0]["prompt"]
    assert f"previous timestep is {round(100 * label[recs[0]['t']])}%" in recs[1]["prompt"]
    for r in recs:
        assert r["image"].shape == (128, 192, 3) and r["progress"] == pytest.approx(label[r["t"]])
        assert verify_cot(r["completion"], episode.facts[r["prev_t"]], episode.facts[r["t"]], r["progress"],
                          goal_task=goal) == []
    assert len(sft_records(episode)) == len(episode) - 1


def test_hf_export_round_trip(episode, tmp_path):
    recs = sft_records(episode, mode="subsampled", n_query=4)
    path = export_hf(recs, tmp_path)
    table = pq.read_table(path)
    assert table.num_rows == 4
    # TRL's conversational format: system turn, then the user turn with the image before the text
    prompt, completion = table.column("prompt").to_pylist()[1], table.column("completion").to_pylist()[1]
    assert [m["role"] for m in prompt] == ["system", "user"] and prompt[0]["content"][0]["text"] == SYSTEM_PROMPT
    assert [p["type"] for p in prompt[1]["content"]] == ["image", "text"]
    assert prompt[1]["content"][1]["text"] == recs[1]["prompt"]
    assert completion == [{"role": "assistant", "content": [{"type": "text", "text": recs[1]["completion"]}]}]
    # the facts the verifier checks a completion against, with the task the video shows
    facts = [json.loads(f) for f in table.column("facts_cur").to_pylist()]
    assert [f["t"] for f in facts] == [r["t"] for r in recs] and {f["task"] for f in facts} == {episode.task}
    datasets = pytest.importorskip("datasets")
    ds = datasets.load_dataset(str(tmp_path), split="train")
    assert [im.size for im in ds[0]["images"]] == [(192, 128)] and ds[2]["t"] == recs[2]["t"]


def test_export_writes_progress_records_and_qa_of_each_split(tmp_path):
    synth(SynthConfig(tasks="drawer-close", mix="expert=1", eval_per_kind=0, workers=1, env_steps=40,
                      out=str(tmp_path / "data")))
    paths = main(ExportConfig(root=str(tmp_path / "data"), splits=("train",)))
    progress = pq.read_table(paths["progress/train"]).to_pylist()
    assert {r["goal_task"] for r in progress} == {"drawer-close", "drawer-open"}  # own and opposite goal
    qa = pq.read_table(paths["qa/train"]).column("qa").to_pylist()
    assert {"order", "side"} <= set(qa)
    assert paths["qa/train"].startswith(str(tmp_path / "data" / "hf" / "qa"))
