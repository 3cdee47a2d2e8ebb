"""Online RL with the reasoner reward: SAC (state) and DrQ-v2 (pixels)."""
