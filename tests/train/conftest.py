"""The validation the training commands run, for the training tests."""

import pytest


@pytest.fixture(scope="session")
def validate():
    """The evaluation protocol as `sole train sft` hands it to training, one episode also read with reasoning."""
    from sole.eval.protocol import Validation

    return Validation(think_episodes=1)
