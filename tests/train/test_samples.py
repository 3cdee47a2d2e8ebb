import re

import numpy as np
import pytest

from sole.envs.tasks import get_task
from sole.train.samples import SampleConfig, Sampler, completion, random_shift, split_episodes, thin_per_task, to_inputs


def test_thin_per_task_keeps_an_even_spread_of_each_task(task_set, episode_maker):
    kinds = ("expert", "noisy", "hover", "failure", "undo")
    eps = [episode_maker(task, kinds[k], 10 * i + k) for i, task in enumerate(task_set[:2]) for k in range(5)]
    kept = thin_per_task(eps[::-1], 3)  # order in, order out; spacing by index
    assert [e.index for e in kept] == [14, 12, 10, 4, 2, 0]
    assert {e.kind for e in kept} == {"expert", "hover", "undo"}
    assert thin_per_task(eps, 9) == eps


def test_goal_mix_respects_training_tasks(task_set, episodes):
    tasks = ("window-close", "drawer-close", "reach")  # window-open held out
    eps = [e for e in episodes if e.task in tasks]
    s = Sampler(eps, tasks, SampleConfig(), seed=0)
    drawn = {e.goal_task for e in s.batch(400)}
    assert "window-open" not in drawn and drawn <= set(tasks)
    s = Sampler(eps, tasks, SampleConfig(cf_goals="scene"), seed=0)
    assert "window-open" in {e.goal_task for e in s.batch(400)}


def test_held_out_paraphrase_never_drawn(task_set, episodes):
    s = Sampler(episodes, task_set, SampleConfig(held_out_goal=2), seed=1)
    held = {get_task(t).goals[2] for t in task_set}
    assert not held & {e.goal for e in s.batch(400)}


def test_mismatch_labels_zero_and_prior_near_label(task_set, episodes):
    s = Sampler(episodes, task_set, SampleConfig(prior_noise=0.05, p_random_prior=0.0, p_reverse=0.0), seed=2)
    for e in s.batch(300):
        ep = episodes[e.episode]
        assert 1 <= e.t - e.prev <= 10 or e.prev == 0
        assert e.progress == float(ep.label(e.goal_task)[e.t])
        if get_task(e.goal_task).scene != get_task(ep.task).scene:
            assert e.progress == 0.0
        if e.prev > 0:
            assert abs(e.prev_progress - ep.label(e.goal_task)[e.prev]) < 0.3


def test_inputs_and_completion(task_set, episodes):
    s = Sampler(episodes, task_set, SampleConfig(), seed=3)
    ex = s.batch(5)
    x = to_inputs(episodes, ex, ("external", "wrist"), shift=4, rng=np.random.default_rng(0))
    assert x.frames["wrist"].shape == (5, 64, 64, 9) and x.prev_progress.shape == (5,)
    text = completion(episodes[ex[0].episode], ex[0], np.random.default_rng(0))
    assert text.startswith("<think>") and text.endswith(f"<answer>{round(100 * ex[0].progress)}%</answer>")


def test_random_shift_moves_content():
    x = np.zeros((2, 16, 16, 9), np.uint8)
    x[:, 8, 8] = 255
    y = random_shift(x, 3, np.random.default_rng(0))
    assert y.shape == x.shape and y.sum() == x.sum()


def test_split_keeps_every_task_in_training(task_set, episodes):
    train, val = split_episodes(episodes, 3)
    assert {e.task for e in train} == set(task_set) and len(val) == len(task_set)


def test_reversed_samples_play_frames_and_labels_backwards(task_set, episodes):
    drawn = Sampler(episodes, task_set, SampleConfig(p_reverse=1.0, p_random_prior=0.0, prior_noise=0.0),
                    seed=5).batch(50)
    for e in drawn:
        ep = episodes[e.episode]
        n = len(ep)
        assert e.reverse and e.source(n) == [n - 1, n - 1 - e.prev, n - 1 - e.t]
        assert e.progress == float(ep.label(e.goal_task)[n - 1 - e.t])
        if e.prev > 0:
            assert e.prev_progress == float(ep.label(e.goal_task)[n - 1 - e.prev])
    x = to_inputs(episodes, drawn[:1], ("external",))
    ep, e = episodes[drawn[0].episode], drawn[0]
    assert np.array_equal(x.frames["external"][0, ..., 6:].numpy(), ep.frames["external"][len(ep) - 1 - e.t])
    assert re.search(rf"(t=|step ){e.t}\b", completion(ep, e, np.random.default_rng(0)))  # played time


def test_extreme_random_priors_sit_at_zero_or_one(task_set, episodes):
    def priors(p_extreme):
        cfg = SampleConfig(p_random_prior=1.0, p_extreme_prior=p_extreme, p_reverse=0.0)
        return np.array([e.prev_progress for e in Sampler(episodes, task_set, cfg, seed=3).batch(400) if e.prev > 0])

    ends = priors(1.0)
    assert set(np.unique(ends)) == {0.0, 1.0} and 0.3 < ends.mean() < 0.7
    assert np.isin(priors(0.0), [0.0, 1.0]).mean() < 0.05  # uniform when the share is 0


def test_derived_goals_labelled_from_facts_as_played(task_set, episodes):
    s = Sampler(episodes, task_set, SampleConfig(p_derived=0.5, derived_parts=("hand",)), seed=4)
    drawn = s.batch(400)
    derived = [e for e in drawn if e.goal_task.startswith("move:")]
    assert 120 < len(derived) < 280
    for e in derived:
        ep = episodes[e.episode]
        x = np.array([f["hand"][0] for f in ep.facts])[e.source(len(ep))]
        sign = {"move:hand:right": 1, "move:hand:left": -1}.get(e.goal_task, 0)
        assert e.progress == pytest.approx(np.clip(sign * (x[2] - x[0]) / 0.1, 0, 1), abs=1e-6)
        assert e.goal.split()[2] == "gripper"
        assert f"t={e.t}:" in completion(ep, e, np.random.default_rng(0))


def test_no_derived_goals_spend_no_draw(task_set, episodes, monkeypatch):
    def draws():
        return [(e.goal_task, e.t, e.prev, e.reverse, e.prev_progress)
                for e in Sampler(episodes, task_set, SampleConfig(p_derived=0.0), seed=5).batch(50)]
    with_option = draws()
    monkeypatch.setattr(Sampler, "derived_or_goal_task", Sampler.goal_task)  # the sampler before the option
    assert with_option == draws()


def test_meta_world_share_holds_whatever_the_number_of_generated_episodes(episode_maker):
    eps = [episode_maker("reach", "expert", 0)] + [episode_maker("proc:1", "expert", i) for i in range(1, 10)]
    tasks = ("reach", "proc:1")

    def share(cfg):
        return np.mean([e.episode == 0 for e in Sampler(eps, tasks, cfg, seed=0).batch(2000)])
    assert abs(share(SampleConfig()) - 0.1) < 0.03
    assert abs(share(SampleConfig(p_meta_world=0.5)) - 0.5) < 0.04


def test_meta_world_share_draws_nothing_without_generated_episodes(episodes, task_set):
    first = Sampler(episodes, task_set, SampleConfig(), seed=4).batch(50)
    assert Sampler(episodes, task_set, SampleConfig(p_meta_world=0.5), seed=4).batch(50) == first
