"""Independent reference computations (mpmath, brute force, external oracles); never imports ``theory``."""
