"""Benchmarks (`make bench`): figures and ratios against naive baselines measured in the same run."""
