"""Training: SFT and GRPO for the compact reasoner."""
