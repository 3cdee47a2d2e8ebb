"""Reward metrics, RL success and the report."""
