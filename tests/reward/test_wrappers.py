import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from sole.envs.sim import TaskEnv, make_env
from sole.envs.tasks import get_task
from sole.models.base import Step
from sole.reward.rewarder import RewardConfig, resolve_reward
from sole.reward.wrappers import REPEAT, EpisodeRecord, make_agent_env
from sole.reward.wrappers import make_vec_env as make_resolved_vec_env

HORIZON = 12
"""A short episode keeps the tests fast; the protocol's 100 is the default."""
AGENT_INFO_KEYS = {"TimeLimit.truncated", "terminal_observation"}


def make_vec_env(task: str, reward: RewardConfig, *, reasoner=None, **kw):
    """The vec env of ``task`` with ``reward`` resolved (progress unscaled unless the config says otherwise)."""
    spec = get_task(task)
    return make_resolved_vec_env(spec, resolve_reward(reward, spec, reasoner), **kw)


def actions(n: int, n_envs: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, n_envs, 4)).astype(np.float32)


def roll(venv, acts: np.ndarray) -> tuple[list, list, list, list]:
    venv.seed(3)
    obs = [venv.reset()]
    rewards, dones, infos = [], [], []
    for a in acts:
        o, r, d, i = venv.step(a)
        obs.append(o), rewards.append(r), dones.append(d), infos.append(i)
    return obs, rewards, dones, infos


@pytest.fixture
def no_privileged(monkeypatch):
    def forbidden(self):
        raise AssertionError("privileged state was read")

    monkeypatch.setattr(TaskEnv, "privileged", forbidden)


def test_agent_info_has_no_privileged_keys(pixel_reasoner):
    venv = make_vec_env("reach", RewardConfig(scale=1.0), n_envs=2, horizon=HORIZON, reasoner=pixel_reasoner)
    try:
        _, rewards, dones, infos = roll(venv, actions(HORIZON + 3, 2))
    finally:
        venv.close()
    assert all(set(i) <= AGENT_INFO_KEYS for step in infos for i in step)
    ends = [t for t, d in enumerate(dones) if d.all()]
    assert ends == [HORIZON - 1]
    assert infos[ends[0]][0]["TimeLimit.truncated"] is True
    assert len(venv.finished) == 2 and isinstance(venv.finished[0], EpisodeRecord)
    assert all(0.0 <= r <= 1.0 for step in rewards for r in step)


def test_observations_equal_the_plain_env_under_action_repeat():
    acts = actions(20)
    venv = make_vec_env("drawer-close", RewardConfig(source="zero"), seed=5)
    plain = make_env("drawer-close", seed=5)
    try:
        obs, *_ = roll(venv, acts)
        expected = [plain.reset(seed=3)[0]]
        for a in acts[:, 0]:
            for _ in range(REPEAT):
                o, *_ = plain.step(a)
            expected.append(o)
    finally:
        venv.close()
        plain.close()
    np.testing.assert_allclose(np.concatenate(obs), np.stack(expected).astype(np.float32), rtol=1e-6)
    assert plain.privileged().facts.t == REPEAT * len(acts)


def test_sole_reward_never_reads_privileged_state(pixel_reasoner, no_privileged):
    venv = make_vec_env("window-close", RewardConfig(every=2), n_envs=2, truth=False, horizon=HORIZON,
                        reasoner=pixel_reasoner)
    try:
        _, rewards, _, _ = roll(venv, actions(HORIZON + 5, 2))
    finally:
        venv.close()
    assert len(pixel_reasoner.batches) >= HORIZON // 2 + 2 and np.ptp(np.concatenate(rewards)) > 0


def test_the_privileged_guard_catches_an_oracle(no_privileged):
    venv = make_vec_env("window-close", RewardConfig(source="oracle-dense"), truth=False)
    try:
        with pytest.raises(AssertionError, match="privileged"):
            roll(venv, actions(2))
    finally:
        venv.close()


def test_truth_channel_does_not_change_rewards(pixel_reasoner):
    runs = []
    for truth in (False, True):
        venv = make_vec_env("reach", RewardConfig(every=5), truth=truth, horizon=HORIZON, reasoner=pixel_reasoner)
        try:
            runs.append(roll(venv, actions(HORIZON)))
        finally:
            venv.close()
    np.testing.assert_array_equal(np.concatenate(runs[0][1]), np.concatenate(runs[1][1]))
    np.testing.assert_array_equal(np.concatenate(runs[0][0]), np.concatenate(runs[1][0]))


def test_oracle_dense_rewards_the_true_progress_and_records_videos():
    venv = make_vec_env("drawer-close", RewardConfig(source="oracle-dense", scale=1.0), horizon=HORIZON, record=True)
    try:
        _, rewards, _, _ = roll(venv, actions(HORIZON))
    finally:
        venv.close()
    (rec,) = venv.finished
    np.testing.assert_allclose(np.concatenate(rewards), rec.true_curve[1:], rtol=1e-6)
    assert rec.reward_progress == pytest.approx(rec.true_progress) and rec.length == HORIZON
    assert len(rec.frames["external"]) == HORIZON + 1 and rec.frames["wrist"][0].shape == (64, 64, 3)
    assert rec.ret == pytest.approx(float(np.sum(rewards)), rel=1e-5)


def test_hacked_means_claimed_success_without_it():
    assert EpisodeRecord(False, False, 0.3, 0.85, 0.0, 100).hacked
    assert not EpisodeRecord(True, True, 1.0, 0.85, 0.0, 100).hacked
    assert not EpisodeRecord(False, False, 0.3, 0.5, 0.0, 100).hacked


def test_protocol_limits_are_checked():
    with pytest.raises(ValueError, match="exceeds Meta-World's 500"):
        make_agent_env("reach", horizon=300, repeat=2)


def test_a_reasoner_of_the_scene_view_reads_it_and_recorded_videos_keep_the_camera_views(pixel_reasoner):
    pixel_reasoner.views = ("scene",)
    venv = make_vec_env("window-close", RewardConfig(source="sole"), horizon=HORIZON, record=True,
                        reasoner=pixel_reasoner)
    try:
        roll(venv, actions(HORIZON))
    finally:
        venv.close()
    assert all("scene" in q.current for batch in pixel_reasoner.batches for q in batch)
    recorded = venv.finished[0].frames
    assert set(recorded) == {"external", "wrist"}
    for k, batch in enumerate(pixel_reasoner.batches[:HORIZON]):  # step k's query reads frame k + 1, arm left out
        scene, external = batch[0].current["scene"], recorded["external"][k + 1]
        assert scene.shape == external.shape and not np.array_equal(scene, external)


def test_the_reward_wrapper_wraps_a_vec_env(pixel_reasoner):
    venv = make_vec_env("reach", RewardConfig(), n_envs=2, horizon=HORIZON, reasoner=pixel_reasoner)
    try:
        assert isinstance(venv, VecEnvWrapper) and not isinstance(venv, DummyVecEnv)
        assert isinstance(venv.venv, DummyVecEnv) and venv.num_envs == 2
    finally:
        venv.close()


@pytest.fixture
def render_calls(monkeypatch) -> list[tuple[str, ...]]:
    calls: list[tuple[str, ...]] = []
    original = TaskEnv.render_views

    def counted(self, views=None):
        calls.append(tuple(views or ()))
        return original(self, views)

    monkeypatch.setattr(TaskEnv, "render_views", counted)
    return calls


def test_pixel_agent_and_reward_read_one_rendering_per_step(pixel_reasoner, render_calls):
    venv = make_vec_env("drawer-close", RewardConfig(), horizon=HORIZON, size=32, pixels=True,
                        reasoner=pixel_reasoner)
    try:
        venv.seed(0)
        obs = [venv.reset()]
        for a in actions(5):
            obs.append(venv.step(a)[0])
    finally:
        venv.close()
    assert len(render_calls) == 1 + 5  # the reset and each step: one rendering, not one for the agent and one more
    for t, batch in enumerate(pixel_reasoner.batches, start=1):  # step t's query reads what the agent saw at t
        pixels = obs[t]["pixels"][0]  # (3 * views, H, W)
        assert np.array_equal(batch[0].current["external"], pixels[:3].transpose(1, 2, 0))
        assert np.array_equal(batch[0].current["wrist"], pixels[3:].transpose(1, 2, 0))


def test_an_episode_last_step_is_read_before_the_env_resets():
    acts = actions(HORIZON + 2)
    venv = make_vec_env("drawer-close", RewardConfig(source="oracle-dense", scale=1.0), seed=5, horizon=HORIZON)
    plain = make_env("drawer-close", seed=5)
    try:
        _, rewards, dones, _ = roll(venv, acts)
        plain.reset(seed=3)
        for a in acts[:HORIZON, 0]:
            for _ in range(REPEAT):
                plain.step(a)
        final = plain.privileged()
    finally:
        venv.close()
        plain.close()
    (rec,) = venv.finished
    assert [t for t, d in enumerate(dones) if d[0]] == [HORIZON - 1]
    assert rewards[HORIZON - 1][0] == pytest.approx(final.progress) == pytest.approx(rec.true_progress)
    assert rec.success == final.success and rec.length == HORIZON


@pytest.mark.parametrize("every", [1, 2, 5])
def test_the_reward_views_are_rendered_only_at_its_query_steps(pixel_reasoner, render_calls, every):
    venv = make_vec_env("reach", RewardConfig(every=every), horizon=HORIZON, reasoner=pixel_reasoner)
    try:
        roll(venv, actions(HORIZON))
    finally:
        venv.close()
    queried = [t for t in range(1, HORIZON + 1) if t % every == 0 or t == HORIZON]
    # the first reset, each query step, and the reset after the episode ends
    assert len(render_calls) == 1 + len(queried) + 1
    assert set(render_calls) == {pixel_reasoner.views}


@pytest.mark.parametrize("source", ["oracle-dense", "zero"])
def test_rewards_that_read_no_pixels_render_nothing(render_calls, source):
    venv = make_vec_env("reach", RewardConfig(source=source), horizon=HORIZON)
    try:
        roll(venv, actions(HORIZON))
    finally:
        venv.close()
    assert render_calls == []


class UnparsedEveryThird:
    """Answers 0.5; every third query's answer does not parse."""

    views = ("external",)

    def __init__(self):
        self.n = 0

    def judge(self, queries, *, think=True):
        out = []
        for _ in queries:
            self.n += 1
            out.append(Step(progress=0.5, parsed=self.n % 3 != 0))
        return out


def test_episode_records_count_the_answers_that_did_not_parse():
    venv = make_vec_env("reach", RewardConfig(every=2), horizon=HORIZON, reasoner=UnparsedEveryThird())
    try:
        roll(venv, actions(2 * HORIZON))
    finally:
        venv.close()
    first, second = venv.finished
    # every=2 over 12 steps: 6 queries per episode, queries 3, 6 | 9, 12 fail
    assert (first.parse_failures, second.parse_failures) == (2, 2)


@pytest.mark.slow  # spawns two env processes: ~15 s of CPU
def test_envs_in_worker_processes_give_the_same_steps_as_in_process():
    results = []
    for processes in (False, True):
        venv = make_vec_env("drawer-close", RewardConfig(source="oracle-dense"), n_envs=2, horizon=HORIZON,
                            processes=processes)
        try:
            results.append(roll(venv, actions(HORIZON + 3, n_envs=2)))
            finished = [(r.success, r.true_progress, r.ret) for r in venv.finished]
        finally:
            venv.close()
        results[-1] += (finished,)
    (obs_a, rew_a, done_a, _, fin_a), (obs_b, rew_b, done_b, _, fin_b) = results
    np.testing.assert_array_equal(np.concatenate(obs_a), np.concatenate(obs_b))
    np.testing.assert_array_equal(np.concatenate(rew_a), np.concatenate(rew_b))
    assert np.array_equal(done_a, done_b) and fin_a == fin_b and len(fin_a) == 2
