from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from sole.reward.wrappers import Sensors, make_agent_env


def test_the_agent_env_sac_steps_passes_gymnasium_and_sb3_env_checks():
    env = make_agent_env("button-press", seed=2)
    try:
        check_env(env, skip_render_check=False)
        sb3_check_env(env)
    finally:
        env.close()


def test_the_pixel_agent_env_passes_sb3_env_check():
    env = Sensors(make_agent_env("reach"), views=("external",), pixels=True)
    try:
        sb3_check_env(env, warn=False)
    finally:
        env.close()
