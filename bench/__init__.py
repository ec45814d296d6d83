"""Benchmarks: `python -m bench` (or `make bench`). Each writes bench/results/<name>.json."""
