from dataclasses import replace

import mujoco
import pytest

from sole.envs.procedural.layouts import sample_world
from sole.envs.procedural.mjcf import MECH_PARTS, model_path, world_xml
from sole.envs.procedural.world import Mech


@pytest.mark.parametrize("kind", list(MECH_PARTS))
def test_every_mechanism_builds_on_meta_worlds_arm(kind):
    w = replace(sample_world(0, 0, ("press",)), mech=Mech(kind, "red", (0.0, 0.75), 0.0))
    model = mujoco.MjModel.from_xml_path(str(model_path(w)))
    assert model.joint("mech_joint").limited and model.site("handle") and model.camera("gripperPOV")
    assert model.nexclude == 1  # the moving part does not collide with its base


def test_the_model_file_is_named_by_its_content():
    w = sample_world(1, 0, ("push",))
    assert model_path(w) == model_path(w) and model_path(w).read_text() == world_xml(w)
    assert model_path(w) != model_path(replace(w, prims=w.prims[:1]))
