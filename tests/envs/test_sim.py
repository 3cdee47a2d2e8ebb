import numpy as np
import pytest

from sole.envs.sim import CAMERAS, EnvConfig, make_env


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"task": "open-window"}, "unknown task 'open-window'; valid tasks: .*window-open"),
    ({"external": "front"}, "unknown camera 'front'; valid cameras: workspace, topview"),
    ({"wrist": "hand"}, "unknown camera 'hand'; valid cameras: .*gripperPOV"),
    ({"size": 65}, "unsupported render size 65; valid sizes: 32, 48, 64"),
])
def test_bad_input_names_the_valid_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnvConfig(**kwargs).validate()


def test_agent_side_carries_no_privileged_information():
    env = make_env("push", size=32)
    try:
        obs, info = env.reset()
        obs2, reward, terminated, truncated, info2 = env.step(env.action_space.sample())
        assert obs.shape == obs2.shape == (39,) and info == info2 == {} and reward == 0.0 and not terminated
        with pytest.raises(ValueError, match="valid cameras"):
            env.render_camera("nope")
    finally:
        env.close()


def test_views_are_upright_lit_frames():
    env = make_env("button-press", size=32)
    try:
        env.reset()
        views = env.render_views()
        assert set(views) == {"external", "wrist"}
        for img in views.values():
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and img.std() > 10 and img.mean() > 40
        # upright: the grey back wall sits above the brown table in the external view
        ext = views["external"].astype(float)
        assert ext[:6].mean() > ext[-6:].mean()
        depth = env.render_depth("workspace")
        assert depth.shape == (32, 32) and np.isfinite(depth).all()
    finally:
        env.close()


def test_every_camera_renders():
    env = make_env("drawer-open", size=32)
    try:
        env.reset()
        assert all(env.render_camera(c).std() > 5 for c in CAMERAS)
    finally:
        env.close()
