"""Reasoner progress as an RL reward: streaming Rewarder and gymnasium wrappers."""
