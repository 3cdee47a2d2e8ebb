import numpy as np
import pytest

from sole.envs.procedural.layouts import SAMPLERS, LayoutError, sample_world


def test_same_seed_same_world_other_seed_other_world():
    assert sample_world(5, 0, tuple(SAMPLERS)) == sample_world(5, 0, tuple(SAMPLERS))
    assert sample_world(5, 0, tuple(SAMPLERS)) != sample_world(6, 0, tuple(SAMPLERS))


@pytest.mark.parametrize("verb", list(SAMPLERS))
def test_every_verb_samples_worlds_with_unique_colours_and_room_between_parts(verb):
    made = 0
    for seed in range(6):
        try:
            w = sample_world(seed, 0, (verb,))
        except LayoutError:
            continue
        made += 1
        assert w.verb == verb and w.seed == seed
        colours = [p.colour for p in w.prims] + [x.colour for x in (w.mech, w.target) if x is not None]
        assert len(colours) == len(set(colours))
        for i, a in enumerate(w.prims):
            for b in w.prims[i + 1:]:
                assert np.linalg.norm(np.subtract(a.xy, b.xy)) >= a.footprint + b.footprint
    assert made >= 3


def test_opposite_swaps_start_and_goal_and_undoes_itself():
    w = sample_world(0, 0, ("open",))
    o = w.opposite()
    assert o.verb == "close" and (o.mech.q0, o.qgoal) == (w.qgoal, w.mech.q0)
    assert o.opposite() == w
    with pytest.raises(ValueError, match="no opposite"):
        sample_world(0, 0, ("press",)).opposite()
