"""On-disk datasets (LeRobot v3 layout) and the in-memory episode."""
