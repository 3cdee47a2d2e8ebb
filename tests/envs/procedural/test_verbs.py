from sole.envs.procedural.layouts import SAMPLERS
from sole.envs.procedural.text import TEMPLATES
from sole.envs.procedural.verbs import VERBS


def test_every_verb_is_sampled_measured_and_worded():
    assert set(VERBS) == set(SAMPLERS) == set(TEMPLATES)
    assert all(len(t) >= 5 for t in TEMPLATES.values())
    assert {v.phases for v in VERBS.values()} == {"reach", "push", "pick"}
