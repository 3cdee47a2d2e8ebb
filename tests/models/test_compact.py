import json

import numpy as np
import pytest
import torch

from sole.models.base import Query, parse_answer
from sole.models.compact import CompactConfig, CompactModel, CompactReasoner, new_goal_vocab
from sole.models.tokenizer import WordTokenizer

GOALS = ["close the window", "open the window", "press the button"]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    tok = WordTokenizer.fit(["<think>t=3: the window moved 4 cm.</think><answer>46%</answer>"])
    return CompactModel.build(CompactConfig.tiny(), tok, new_goal_vocab(GOALS)).eval()


def frames(rng, size=64):
    return {v: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for v in ("external", "wrist")}


def queries(n, goal="close the window", size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [Query(goal, frames(rng, size), frames(rng, size), frames(rng, size), 0.3) for _ in range(n)]


def test_judge_batch_shapes_and_range(model):
    steps = CompactReasoner(model, batch_size=3).judge(queries(7), think=False)
    assert len(steps) == 7
    assert all(-1 <= s.progress <= 1 and s.text == "" for s in steps)


def test_batched_equals_single(model):
    r = CompactReasoner(model)
    qs = queries(4)
    batched = [s.progress for s in r.judge(qs, think=False)]
    single = [r.judge([q], think=False)[0].progress for q in qs]
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_think_output_parses_or_falls_back(model):
    steps = CompactReasoner(model).judge(queries(2), think=True)
    for s in steps:
        assert s.text, "thinking must write text"
        assert s.progress == parse_answer(s.text, 0.3)


def test_goal_text_changes_output(model):
    r = CompactReasoner(model)
    a = r.judge(queries(3, "close the window"), think=False)
    b = r.judge(queries(3, "open the window"), think=False)
    assert max(abs(x.progress - y.progress) for x, y in zip(a, b, strict=True)) > 1e-4


def test_other_frame_sizes_are_resized(model):
    steps = CompactReasoner(model).judge(queries(2, size=96), think=False)
    assert len(steps) == 2


def test_missing_view_is_a_clear_error(model):
    q = queries(1)[0]
    bad = Query(q.goal, {"external": q.first["external"]}, q.previous, q.current, 0.0)
    with pytest.raises(ValueError, match="lacks view 'wrist'"):
        CompactReasoner(model).judge([bad])


def test_save_load_round_trip(model, tmp_path):
    model.save_pretrained(tmp_path / "ck", step=7)
    loaded = CompactModel.from_pretrained(tmp_path / "ck")
    qs = queries(3)
    a = CompactReasoner(model).judge(qs, think=True)
    b = CompactReasoner(loaded).judge(qs, think=True)
    assert [s.progress for s in a] == pytest.approx([s.progress for s in b], abs=1e-6)
    assert [s.text for s in a] == [s.text for s in b]
    assert json.loads((tmp_path / "ck" / "config.json").read_text())["step"] == 7


def test_missing_file_error(model, tmp_path):
    model.save_pretrained(tmp_path / "ck")
    (tmp_path / "ck" / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="model.safetensors is missing"):
        CompactModel.from_pretrained(tmp_path / "ck")


def test_wrong_version_error(model, tmp_path):
    model.save_pretrained(tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta | {"format": 99}))
    with pytest.raises(ValueError, match="format 99 is not supported"):
        CompactModel.from_pretrained(tmp_path / "ck")


def test_wrong_shapes_error(model, tmp_path):
    model.save_pretrained(tmp_path / "ck")
    meta = json.loads((tmp_path / "ck" / "config.json").read_text())
    meta["model"]["d_model"] = 48
    (tmp_path / "ck" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="weights do not fit the model config"):
        CompactModel.from_pretrained(tmp_path / "ck")


def test_difference_channels_fold_exactly(model):
    """The 15-channel first conv (frames + differences) equals its folded 9-channel form."""
    enc = model.views["external"]
    x = torch.rand(2, 9, 8, 8) * 255
    first, prev, cur = x[:, 0:3], x[:, 3:6], x[:, 6:9]
    norm = [y / 127.5 - 1 for y in (first, prev, cur)]
    x15 = torch.cat(norm + [norm[2] - norm[1], norm[2] - norm[0]], dim=1)
    with torch.no_grad():
        folded = torch.nn.functional.conv2d(x, *enc.first_conv())  # no padding
    direct = torch.nn.functional.conv2d(x15, enc.convs[0].weight, enc.convs[0].bias)
    torch.testing.assert_close(folded, direct, atol=1e-4, rtol=1e-4)


def test_folded_first_conv_is_kept_until_the_weights_change_and_carries_gradients():
    torch.manual_seed(0)
    enc = CompactModel.build(CompactConfig.tiny(), WordTokenizer.fit(["a"]), new_goal_vocab(GOALS)).views["wrist"]
    with torch.no_grad():
        w0, _ = enc.first_conv()
        assert enc.first_conv()[0] is w0  # kept while nothing changed
        enc.convs[0].weight.mul_(2)  # in place, as an optimiser step or a load changes weights
        enc.convs[0].bias.add_(1)
        kept = enc.first_conv()
    w, b = enc.first_conv()  # with gradients on: folded afresh, inside the graph
    torch.testing.assert_close(kept, (w.detach(), b.detach()))
    torch.testing.assert_close(kept[0], 2 * w0)
    (w.sum() + b.sum()).backward()
    assert enc.convs[0].weight.grad.abs().sum() > 0 and enc.convs[0].bias.grad.abs().sum() > 0


def test_judge_restores_the_callers_thread_count(model):
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    CompactReasoner(model, threads=1).judge(queries(1), think=False)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(before)


def test_greedy_generation_follows_the_teacher_forced_decoder(model):
    from sole.models.tokenizer import BOS, PAD

    h = torch.randn(3, model.cfg.d_model, generator=torch.Generator().manual_seed(1))
    ids = model.generate(h, max_new_tokens=12)
    inp = torch.cat([torch.full((3, 1), BOS, dtype=torch.long), ids[:, :-1]], dim=1)
    with torch.no_grad():
        forced = model.logits(h, inp).argmax(-1)
    real = ids != PAD  # up to and including each completion's <eos>
    assert torch.equal(forced[real], ids[real])


def test_sampled_reasoning_is_seeded_and_departs_from_greedy(model):
    qs = queries(6)
    greedy = [s.text for s in CompactReasoner(model).judge(qs)]
    sampled = [[s.text for s in CompactReasoner(model, temperature=1.0, seed=3).judge(qs)] for _ in range(2)]
    assert sampled[0] == sampled[1] and sampled[0] != greedy
    assert greedy == [s.text for s in CompactReasoner(model).judge(qs)]


def test_reasoner_encodes_each_goal_once_and_matches_fresh_encoding(model, monkeypatch):
    from sole.models.compact import queries_to_inputs

    r = CompactReasoner(model)
    calls = []
    condition = model.condition
    monkeypatch.setattr(model, "condition", lambda goals: calls.append(list(goals)) or condition(goals))
    qs = queries(3) + queries(2, goal="open the window", seed=1)
    first = [s.progress for s in r.judge(qs, think=False)]
    again = [s.progress for s in r.judge(qs, think=False)]
    assert calls == [["close the window", "open the window"]] and first == again
    with torch.no_grad():
        fresh = model.progress(model.encode(queries_to_inputs(qs, r.views))).clamp(-1, 1)
    assert np.allclose(first, fresh.numpy(), atol=1e-6)


def test_frozen_state_matches_eager_at_any_batch_size(model):
    from sole.models.compact import queries_to_inputs

    frozen = model.frozen_state()
    r = CompactReasoner(model)
    for n in (1, 5):
        x = queries_to_inputs(queries(n, seed=n), r.views)
        args = (r.conditions(x.goals), x.prev_progress, *(x.frames[v] for v in r.views))
        with torch.no_grad():
            torch.testing.assert_close(frozen(*args), model.state(*args), atol=1e-5, rtol=1e-4)


def test_goal_caches_keep_the_most_recently_used_goals(model, monkeypatch):
    import sole.models.goaltext as goaltext

    def fake_minilm(goals):  # features of a new string, without loading MiniLM
        g = torch.Generator().manual_seed(sum(map(ord, goals[0])))
        return (torch.randn(len(goals), 384, generator=g), torch.randn(len(goals), 16, 384, generator=g),
                torch.ones(len(goals), 16, dtype=torch.bool))

    monkeypatch.setattr(goaltext, "encode_minilm", fake_minilm)
    goals = [f"move the cup {i} cm" for i in range(6)] + ["close the window"]
    unbounded = CompactReasoner(model, goal_cache=100)
    want = {g: [s.progress for s in unbounded.judge(queries(2, goal=g), think=False)] for g in goals}
    bounded = CompactReasoner(model, goal_cache=2)
    assert len(model.goal_text.new) == 2  # the model's memo of text features is bounded with it
    for goal in goals + goals[:1]:
        assert [s.progress for s in bounded.judge(queries(2, goal=goal), think=False)] == want[goal]
        assert len(bounded._goals) <= 2 and len(model.goal_text.new) <= 2
    assert list(bounded._goals) == ["close the window", goals[0]]  # the least recently used went first
    monkeypatch.setenv("SOLE_GOAL_CACHE", "3")
    assert CompactReasoner(model)._goals.size == 3


def test_a_reasoner_with_its_goal_cache_copies_whole(model):
    import copy

    r = CompactReasoner(model, goal_cache=2)
    r.judge(queries(1), think=False)
    twin = copy.deepcopy(r)
    assert twin._goals.size == 2 and list(twin._goals) == list(r._goals) and twin.model.goal_text.new.size == 2
