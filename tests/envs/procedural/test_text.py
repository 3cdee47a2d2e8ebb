import pytest

from sole.envs.procedural.layouts import SAMPLERS, LayoutError, sample_world
from sole.envs.procedural.text import goal_texts


def _world(verb):
    for seed in range(10):
        try:
            return sample_world(seed, 0, (verb,))
        except LayoutError:
            continue
    raise AssertionError(verb)


@pytest.mark.parametrize("verb", list(SAMPLERS))
def test_five_distinct_paraphrases_naming_the_object_by_colour(verb):
    w = _world(verb)
    goals = goal_texts(w)
    assert len(goals) >= 5 and len(set(goals)) == len(goals)
    named = w.subject or w.target or w.mech
    assert all("{" not in g for g in goals)
    if w.mech is None:
        assert all(named.colour in g for g in goals)


def test_opposite_goals_use_the_opposite_words():
    w = _world("slide")
    assert all(w.direction in g for g in goal_texts(w))
    assert all(w.opposite().direction in g for g in goal_texts(w.opposite()))
    assert goal_texts(_world("open").opposite())[0].startswith("close")
