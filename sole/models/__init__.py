"""Reasoners: the shared query contract, the compact default model, HF/API backends and baselines."""
