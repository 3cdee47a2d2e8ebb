from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sole.envs.tasks import get_task
from sole.models.base import Query, Step
from sole.reward.rewarder import SOURCES, Reward, RewardConfig, Rewarder, query_step, resolve_reward


class ScriptedReasoner:
    """Answers a fixed progress sequence, one per call, and records each call's queries."""

    views = ("external",)

    def __init__(self, answers: list[float]):
        self.answers = answers
        self.calls: list[list[Query]] = []

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        self.calls.append(queries)
        return [Step(progress=self.answers[len(self.calls) - 1], text=f"call {len(self.calls)}") for _ in queries]


def frame(v: int) -> dict[str, np.ndarray]:
    return {"external": np.full((8, 8, 3), v, np.uint8)}


def rewarder(answers: list[float], n: int = 1, **kw) -> tuple[Rewarder, ScriptedReasoner]:
    src = ScriptedReasoner(answers)
    return Rewarder(Reward(RewardConfig(**{"scale": 1.0} | kw), "close the window", reasoner=src), n), src


def test_streaming_state_follows_the_contract():
    r, src = rewarder([0.2, 0.5, 0.4])
    r.reset(0, frame(0))
    for t in (1, 2, 3):
        r.step([frame(t)])
    (q1,), (q2,), (q3,) = src.calls
    assert q1.prev_progress == 0.0 and q2.prev_progress == 0.2 and q3.prev_progress == 0.5
    assert all(q.first["external"][0, 0, 0] == 0 for q in (q1, q2, q3))
    assert [q.previous["external"][0, 0, 0] for q in (q1, q2, q3)] == [0, 1, 2]
    assert q3.current["external"][0, 0, 0] == 3 and q3.goal == "close the window"
    assert r.text[0] == "call 3"


def test_one_judge_call_for_all_envs_per_step():
    r, src = rewarder([0.1, 0.3], n=3)
    for i in range(3):
        r.reset(i, frame(i))
    rewards = r.step([frame(9), frame(9), frame(9)])
    assert len(src.calls) == 1 and len(src.calls[0]) == 3
    np.testing.assert_allclose(rewards, [0.1, 0.1, 0.1])
    r.step([None, frame(7), None])  # only env 1 is due: it alone is queried, the others hold
    assert len(src.calls[1]) == 1 and src.calls[1][0].current["external"][0, 0, 0] == 7
    np.testing.assert_allclose(r.progress, [0.1, 0.3, 0.1])


def test_every_k_holds_between_queries():
    r, src = rewarder([0.3, 0.6], every=3)
    r.reset(0, frame(0))
    rewards = [r.step([frame(1) if query_step(t, 3, last=False) else None])[0] for t in range(1, 7)]
    assert len(src.calls) == 2
    np.testing.assert_allclose(rewards, [0, 0, 0.3, 0.3, 0.3, 0.6])


def test_every_k_extrapolates_linearly_and_last_step_is_due():
    r, _ = rewarder([0.3, 0.6, 0.2], every=3, between="extrapolate")
    r.reset(0, frame(0))
    rewards = [r.step([frame(1) if query_step(t, 3, last=False) else None])[0] for t in range(1, 5)]
    assert not query_step(5, 3, last=False) and query_step(5, 3, last=True)  # step 5 is due only as the last
    rewards.append(r.step([None])[0])
    np.testing.assert_allclose(rewards, [0, 0, 0.3, 0.4, 0.5])  # slope 0.1/step from (0, 0) -> (3, 0.3)


def test_delta_mode_and_scale():
    r, _ = rewarder([0.2, 0.5, 0.4], mode="delta", scale=10.0)
    r.reset(0, frame(0))
    rewards = [r.step([frame(1)])[0] for _ in range(3)]
    np.testing.assert_allclose(rewards, [2.0, 3.0, -1.0])
    assert sum(rewards) == pytest.approx(10 * r.progress[0])


def test_reset_clears_one_env_only():
    r, _ = rewarder([0.5, 0.7], n=2)
    r.reset(0, frame(0))
    r.reset(1, frame(0))
    r.step([frame(1), frame(1)])
    r.reset(1, frame(5))
    assert r.progress.tolist() == [0.5, 0.0] and r.t.tolist() == [1, 0]


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match="unknown reward source 'magic'.*oracle-dense"):
        RewardConfig(source="magic").validate()
    with pytest.raises(ValueError, match="every=0"):
        RewardConfig(every=0).validate()
    with pytest.raises(ValueError, match="unknown reward mode"):
        RewardConfig(mode="ratio").validate()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown reasoner 'nosuch'"):
        resolve_reward(RewardConfig(model="nosuch"), get_task("reach"))


def test_sources_registry():
    assert set(SOURCES) == {"sole", "oracle-dense", "oracle-sparse", "zero"}


def test_reasoner_source_reads_only_queries(pixel_reasoner):
    r = Rewarder(resolve_reward(RewardConfig(scale=1.0), get_task("reach"), pixel_reasoner), 2)
    assert r.views == ("external", "wrist") and not r.reward.privileged
    for i in range(2):
        r.reset(i, {"external": np.zeros((4, 4, 3), np.uint8), "wrist": np.zeros((4, 4, 3), np.uint8)})
    full = {"external": np.full((4, 4, 3), 255, np.uint8), "wrist": np.zeros((4, 4, 3), np.uint8)}
    np.testing.assert_allclose(r.step([full, full]), [1.0, 1.0])
    assert len(pixel_reasoner.batches) == 1 and len(pixel_reasoner.batches[0]) == 2


def test_the_oracles_read_the_state_they_are_given():
    task = get_task("drawer-close")
    states = [SimpleNamespace(progress=0.4, success=False), SimpleNamespace(progress=1.0, success=True)]
    dense = resolve_reward(RewardConfig(source="oracle-dense", scale=1.0), task)
    sparse = resolve_reward(RewardConfig(source="oracle-sparse", scale=1.0), task)
    zero = resolve_reward(RewardConfig(source="zero"), task)
    assert dense.privileged and sparse.privileged and not zero.privileged and dense.views == ()
    assert [s.progress for s in dense.judge([], states)] == [0.4, 1.0]  # type: ignore[arg-type]
    assert [s.progress for s in sparse.judge([], states)] == [0.0, 1.0]  # type: ignore[arg-type]
    assert [s.progress for s in zero.judge([], [None, None])] == [0.0, 0.0]


def test_a_reasoner_spec_is_parsed_for_the_task_and_loaded_once(monkeypatch, pixel_reasoner):
    import sole.models.registry as registry

    loaded = []
    monkeypatch.setattr(registry, "load_compact", lambda path: loaded.append(path) or pixel_reasoner)
    reward = resolve_reward(RewardConfig(model="gated:held-out"), get_task("button-press"))
    held_out = registry.spec_for_task("held-out", "button-press")  # compact:<the fold model that never saw it>
    assert [Path(p).name for p in loaded] == [held_out.partition(":")[2]]
    assert reward.views == ("external", "wrist", "scene") and reward.goal == get_task("button-press").goals[0]
    assert reward.thinking().cfg.think and reward.thinking().reasoner is reward.reasoner


def test_answers_that_did_not_parse_are_counted_per_env_and_episode():
    src = ScriptedReasoner([0.1, 0.2, 0.3])
    src.judge = lambda queries, think=True: [Step(progress=0.1, parsed=(len(queries), i) == (2, 0))
                                                  for i, _ in enumerate(queries)]
    r = Rewarder(Reward(RewardConfig(), "close the window", reasoner=src), 2)
    for i in range(2):
        r.reset(i, frame(0))
    r.step([frame(1), frame(1)])
    r.step([None, frame(2)])
    assert r.parse_failures.tolist() == [0, 2]
    r.reset(1, frame(0))
    assert r.parse_failures.tolist() == [0, 0]
