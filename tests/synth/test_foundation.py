from dataclasses import replace

import numpy as np
import pytest

from sole.envs.sim import make_env
from sole.synth.foundation import FACT_KINDS, SPATIAL, fact_questions, project, spatial_records, temporal_records
from sole.synth.rollouts import rollout


@pytest.fixture(scope="module")
def env():
    e = make_env("pick-place")
    yield e
    e.close()


@pytest.mark.parametrize("camera", ["workspace", "corner3"])  # a free camera and a flipped Meta-World camera
def test_projection_lands_on_the_rendered_object(env, camera):
    env.reset(seed=0)
    facts = env.privileged().facts
    u, v, z = project(env, camera, {"obj": facts.obj})["obj"]
    assert 0 <= u < 64 and 0 <= v < 64
    depth = env.render_depth(camera)
    assert abs(depth[int(round(v)), int(round(u))] - z) < 0.05  # the puck's pixel has the puck's depth


def test_spatial_questions_are_answered_from_state(env):
    recs = spatial_records(env, seed=1, frames=3, steps=40)
    assert {r["qa"] for r in recs} <= set(SPATIAL) and len({r["qa"] for r in recs}) >= 4
    for r in recs:
        assert r["image"].shape == (64, 128, 3) and r["completion"] == f"<answer>{r['answer']}</answer>"
    held = [r["answer"] for r in recs if r["qa"] == "held" and r["t"] == 0]
    assert held == ["no"]


def _times(ep, image):
    """Physical times (frame indices; reversed for a reversed video) of each 64-px tile of an image."""
    tiles = [image[:, i:i + 64] for i in range(0, image.shape[1], 64)]
    idx = [[t for t in range(len(ep)) if np.array_equal(ep.frames["external"][t], tile)] for tile in tiles]
    return [[len(ep) - 1 - t for t in ts] if ep.kind == "reversed" else ts for ts in idx]


def test_temporal_answers_follow_physical_time(env):
    checked = 0
    for kind in ("expert", "reversed"):
        ep = rollout(env, kind, seed=2, steps=120)
        recs = temporal_records(ep, np.random.default_rng(0), n=4)
        assert {r["qa"] for r in recs} == {"order", "object-moved", "backwards"}
        for r in recs:
            times = _times(ep, r["image"])
            if r["qa"] == "order" and max(times[0]) < min(times[1]):
                assert r["answer"] == "left"
                checked += 1
            elif r["qa"] == "order" and min(times[0]) > max(times[1]):
                assert r["answer"] == "right"
                checked += 1
            elif r["qa"] == "backwards" and max(times[0]) < min(times[-1]):
                assert r["answer"] == "forwards"
                checked += 1
            elif r["qa"] == "backwards" and min(times[0]) > max(times[-1]):
                assert r["answer"] == "backwards"
                checked += 1
    assert checked >= 4


def test_temporal_questions_skip_only_frozen_videos(env):
    ep = rollout(env, "expert", seed=2, steps=120)
    assert temporal_records(replace(ep, kind="policy"), np.random.default_rng(0), n=4)
    assert temporal_records(replace(ep, kind="frozen"), np.random.default_rng(0), n=4) == []


def test_fact_questions_about_a_stored_step(env):
    ep = rollout(env, "expert", seed=3, steps=60)
    first = {q.qa: q for q in fact_questions(ep, 0)}
    assert set(first) <= set(FACT_KINDS) and first["held"].answer == "no" and first["open"].answer == "open"
    assert first["distance"].answer == f"{round(100 * ep.facts[0]['hand_to_obj'])} cm"
    assert all(q.frames == (0,) and q.t == 0 for q in first.values())
