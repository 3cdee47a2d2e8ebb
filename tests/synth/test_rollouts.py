import numpy as np
import pytest

from sole.envs.sim import make_env
from sole.synth.rollouts import FRAME_EVERY, KINDS, counterfactual_labels, rollout


@pytest.fixture(scope="module")
def env():
    e = make_env("window-close")
    yield e
    e.close()


def test_every_kind_records_both_views_labels_and_facts(env):
    steps = 16
    for kind in KINDS:
        ep = rollout(env, kind, seed=3, steps=steps)
        n = steps // FRAME_EVERY + 1
        assert len(ep) == n, kind
        assert {v: f.shape for v, f in ep.frames.items()} == {"external": (n, 64, 64, 3), "wrist": (n, 64, 64, 3)}
        assert set(ep.labels) == {"window-close", "window-open"}
        for lab in ep.labels.values():
            assert lab.shape == (n,) and lab.min() >= 0 and lab.max() <= 1
        assert [f["t"] for f in ep.facts] == list(range(n))
        assert ep.actions.shape == (n, 4)


def test_same_seed_same_episode_and_other_seed_other_layout(env):
    a, b, c = (rollout(env, "noisy", seed=s, steps=8) for s in (5, 5, 6))
    assert np.array_equal(a.frames["external"], b.frames["external"])
    assert a.facts == b.facts and a.meta == b.meta
    assert a.facts[0]["obj"] != c.facts[0]["obj"] or a.facts[0]["goal"] != c.facts[0]["goal"]


def test_expert_progress_rises_and_opposite_goal_falls(env):
    ep = rollout(env, "expert", seed=1, steps=120)
    own, opp = ep.labels["window-close"], ep.labels["window-open"]
    assert own[-1] >= 0.95 and own[0] < 0.1
    assert opp[0] > 0.9 and opp[-1] < 0.1  # "open the window" on a closing video starts high and falls


def test_reversed_video_reverses_frames_labels_and_facts(env):
    fwd = rollout(env, "expert", seed=2, steps=40)
    rev = rollout(env, "reversed", seed=2, steps=40)
    assert np.array_equal(rev.frames["wrist"], fwd.frames["wrist"][::-1])
    assert np.array_equal(rev.labels["window-close"], fwd.labels["window-close"][::-1])
    assert rev.facts[0]["hand"] == fwd.facts[-1]["hand"] and rev.facts[0]["t"] == 0


def test_frozen_repeats_a_frame_and_holds_its_label(env):
    ep = rollout(env, "frozen", seed=4, steps=60)
    start, stop = ep.meta["frozen"]
    assert stop > start
    for t in range(start, stop):
        assert np.array_equal(ep.frames["external"][t], ep.frames["external"][start - 1])
        assert ep.labels["window-close"][t] == ep.labels["window-close"][start - 1]
        assert ep.facts[t]["t"] == t and ep.facts[t]["hand"] == ep.facts[start - 1]["hand"]


def test_occluded_blacks_out_a_box_of_the_external_camera_only():
    env = make_env("window-close", views=("external", "wrist", "scene"))
    try:
        ep = rollout(env, "occluded", seed=4, steps=20)
    finally:
        env.close()
    y, x, size = ep.meta["occluded"]["box"]
    start = ep.meta["occluded"]["from"]
    assert set(ep.frames) == {"external", "wrist", "scene"}
    for view in ("external", "scene"):
        assert not ep.frames[view][start:, y:y + size, x:x + size].any()
        assert ep.frames[view][start:].any()
    assert ep.frames["wrist"][start:].any()
    wrist_only = make_env("window-close", views=("wrist",))
    try:
        with pytest.raises(ValueError, match="needs a view of the external camera"):
            rollout(wrist_only, "occluded", seed=4, steps=4)
    finally:
        wrist_only.close()


def test_counterfactual_rule_and_unknown_kind():
    labels = counterfactual_labels("drawer-open", np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.4, 1.0]))
    assert np.allclose(labels["drawer-close"], [1.0, 0.6, 0.0])
    assert list(counterfactual_labels("reach", np.zeros(2), np.zeros(2))) == ["reach"]
    with pytest.raises(ValueError, match="valid kinds"):
        rollout(None, "teleport", seed=0)  # type: ignore[arg-type]


def test_expert_holds_once_solved_where_the_raw_expert_undoes_its_success():
    env = make_env("faucet-open")  # the scripted expert turns the faucet past its goal after solving it
    try:
        ep = rollout(env, "expert", seed=0)
    finally:
        env.close()
    own = ep.labels["faucet-open"]
    assert ep.success and own[-1] >= 0.95 and own.max() >= 0.95


def test_look_away_raises_the_hand_away_from_an_untouched_object(env):
    ep = rollout(env, "look-away", seed=4, steps=120)
    first, last = ep.facts[0], ep.facts[-1]
    assert last["hand"][2] > first["hand"][2] + 0.05  # raised
    assert np.linalg.norm(np.subtract(last["hand"], last["obj"])) > np.linalg.norm(
        np.subtract(first["hand"], first["obj"]))  # further from the object than at the start
    assert np.allclose(first["obj"], last["obj"], atol=0.01) and ep.labels["window-close"][-1] < 0.1
