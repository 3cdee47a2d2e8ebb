import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from sole.models.base import Query, Step
from sole.models.constant import Constant
from sole.reward.gym import SoleReward, SoleRewardVecEnv, as_frame


class PixelEnv(gym.Env):
    """A dict observation with a camera image that brightens each step, and a state vector."""

    def __init__(self, horizon: int = 4):
        self.observation_space = gym.spaces.Dict({
            "pixels": gym.spaces.Box(0, 255, (8, 8, 3), np.uint8),
            "state": gym.spaces.Box(-1, 1, (2,), np.float32)})
        self.action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
        self.horizon, self.t = horizon, 0

    render_mode = "rgb_array"

    def render(self):
        return self._obs()["pixels"]

    def _obs(self):
        return {"pixels": np.full((8, 8, 3), 20 * self.t, np.uint8), "state": np.zeros(2, np.float32)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), 5.0, False, self.t >= self.horizon, {}


class PixelReasonerLike(Constant):
    views = ("external", "wrist")


class Unparsed:
    views = ("external",)

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        return [Step(progress=q.prev_progress, text="no answer", parsed=False) for q in queries]


class Brightness:
    """Progress = the current external frame's mean / 255; records each batch's size."""

    views = ("external",)

    def __init__(self, calls: list[int]):
        self.calls = calls

    def judge(self, queries: list[Query], *, think: bool = True) -> list[Step]:
        self.calls.append(len(queries))
        return [Step(progress=float(q.current["external"].mean()) / 255) for q in queries]


def test_pendulum_gets_a_sole_reward_from_its_rendered_frames(pixel_reasoner):
    pytest.importorskip("pygame")
    with pytest.warns(UserWarning, match="no source for the wrist view"):
        env = SoleReward(gym.make("Pendulum-v1", render_mode="rgb_array"), "swing the pendulum up", pixel_reasoner,
                         think=True)
    obs, info = env.reset(seed=0)
    assert info["sole"] == {"progress": 0.0, "reasoning": "", "parse_failures": 0}
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    query = pixel_reasoner.batches[-1][0]
    assert query.goal == "swing the pendulum up" and query.current["external"].shape == (500, 500, 3)
    assert not query.current["wrist"].any()  # one camera: the other view is black
    assert np.array_equal(query.current["external"], env.render())
    want = round(float(np.mean(env.render())) / 255.0, 4)
    assert want > 0 and reward == pytest.approx(want) and info["sole"]["progress"] == pytest.approx(want)
    assert "looked" in info["sole"]["reasoning"]
    env.close()


def test_a_mujoco_env_keeps_its_reward_and_reports_sole_progress_in_info():
    mujoco_env = gym.make("InvertedPendulum-v5", render_mode="rgb_array", width=64, height=64)
    env = SoleReward(mujoco_env, "keep the pole upright", "const:0.25", combine="keep")
    env.reset(seed=1)
    _, reward, *_, info = env.step(env.action_space.sample())
    assert reward == 1.0 and info["sole"]["progress"] == 0.25  # the env's own reward is kept
    env.close()


def test_a_pixel_key_of_a_dict_observation_feeds_the_views_and_streams_the_previous_frame():
    seen: list[Query] = []

    class Recording(Constant):
        views = ("external",)

        def judge(self, queries, *, think=True):
            seen.extend(queries)
            return [Step(progress=float(q.current["external"].mean()) / 255) for q in queries]

    env = SoleReward(PixelEnv(), "brighten the image", Recording(0.0), views={"external": "pixels"}, every=2,
                     combine="add", scale=2.0)
    env.reset()
    rewards = [env.step(np.zeros(1))[1] for _ in range(4)]
    assert [int(q.current["external"].mean()) for q in seen] == [40, 80]  # every second step (and the last)
    assert [int(q.previous["external"].mean()) for q in seen] == [0, 40] and seen[1].prev_progress == pytest.approx(
        40 / 255)
    assert rewards == pytest.approx([5.0, 5 + 2 * 40 / 255, 5 + 2 * 40 / 255, 5 + 2 * 80 / 255])


def test_unparsed_answers_are_counted_per_episode():
    env = SoleReward(PixelEnv(), "brighten the image", Unparsed(), views={"external": "pixels"})
    env.reset()
    assert [env.step(np.zeros(1))[-1]["sole"]["parse_failures"] for _ in range(3)] == [1, 2, 3]
    assert env.reset()[1]["sole"]["parse_failures"] == 0


def test_the_vec_env_wrapper_batches_and_restarts_finished_episodes():
    calls: list[int] = []

    venv = SoleRewardVecEnv(DummyVecEnv([lambda: PixelEnv(horizon=2)] * 3), "brighten", Brightness(calls),
                            views={"external": "pixels"})
    venv.reset()
    _, rewards, dones, infos = venv.step(np.zeros((3, 1)))
    assert calls == [3] and rewards == pytest.approx([20 / 255] * 3) and not dones.any()
    _, rewards, dones, infos = venv.step(np.zeros((3, 1)))
    assert dones.all() and rewards == pytest.approx([40 / 255] * 3)  # read from the terminal observation
    _, rewards, _, infos = venv.step(np.zeros((3, 1)))  # the new episodes start over from their reset frames
    assert rewards == pytest.approx([20 / 255] * 3) and calls == [3, 3, 3]
    assert [i["sole"]["progress"] for i in infos] == pytest.approx([20 / 255] * 3)
    venv.close()


def test_rendered_frames_in_a_vec_env_hold_the_estimate_at_an_episode_end():
    calls: list[int] = []

    venv = SoleRewardVecEnv(DummyVecEnv([lambda: PixelEnv(horizon=2)] * 2), "brighten", Brightness(calls))
    venv.reset()
    rewards = [venv.step(np.zeros((2, 1)))[1] for _ in range(3)]
    # step 2 ends the episodes: SB3 has rendered the reset frame by then, so the estimate is held, not re-read
    assert calls == [2, 2] and np.allclose(rewards, [[20 / 255] * 2, [20 / 255] * 2, [20 / 255] * 2])
    venv.close()


def test_the_vec_env_wrapper_renders_only_on_steps_it_reads():
    class Counting(DummyVecEnv):
        renders = 0

        def get_images(self):
            Counting.renders += 1
            return super().get_images()

    calls: list[int] = []
    venv = SoleRewardVecEnv(Counting([lambda: PixelEnv(horizon=10)] * 2), "brighten", Brightness(calls), every=3)
    venv.reset()
    for _ in range(6):
        venv.step(np.zeros((2, 1)))
    assert calls == [2, 2] and Counting.renders == 1 + 2  # the reset, then steps 3 and 6
    venv.close()


def test_bad_sources_are_clear_errors():
    with pytest.raises(ValueError, match="views \\['top'\\] are not read by the reasoner"):
        SoleReward(PixelEnv(), "x", "const:0.5", views={"top": "pixels"})
    with pytest.raises(ValueError, match="gives 'pixels' to views external, wrist; each view is its own camera"):
        SoleReward(PixelEnv(), "x", PixelReasonerLike(0.5), views={"external": "pixels", "wrist": "pixels"})
    with pytest.raises(ValueError, match="unknown combine"):
        SoleReward(PixelEnv(), "x", "const:0.5", views={"external": "pixels"}, combine="mix")
    with pytest.raises(ValueError, match="empty goal"):
        SoleReward(PixelEnv(), " ", "const:0.5", views={"external": "pixels"})
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        SoleReward(gym.make("InvertedPendulum-v5"), "x", "const:0.5")
    with pytest.raises(ValueError, match="no frame from 'image'"):
        SoleReward(PixelEnv(), "x", "const:0.5", views={"external": "image"}).reset()
    assert as_frame(np.zeros((3, 4, 5)), "pixels").shape == (4, 5, 3)
    with pytest.raises(ValueError, match="not an RGB image"):
        as_frame(np.zeros((4, 4)), "pixels")
