"""Rollout and reasoning synthesis from the task suite."""
