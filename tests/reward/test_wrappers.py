import numpy as np
import pytest

from sole.envs.sim import TaskEnv, make_env
from sole.reward.rewarder import RewardConfig
from sole.reward.wrappers import REPEAT, EpisodeRecord, make_agent_env, make_vec_env

HORIZON = 12
"""A short episode keeps the tests fast; the protocol's 100 is the default."""
AGENT_INFO_KEYS = {"TimeLimit.truncated", "terminal_observation"}


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
    venv = make_vec_env("reach", RewardConfig(), n_envs=2, horizon=HORIZON, reasoner=pixel_reasoner)
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
    venv = make_vec_env("drawer-close", RewardConfig(source="oracle-dense"), horizon=HORIZON, record=True)
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
