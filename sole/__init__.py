"""sole: a video-language reasoning model whose task progress is the only reward for online RL."""

__version__ = "0.1.0"
