"""Benchmarks: python -m bench.NAME; figures and how to reproduce them in docs/BENCHMARKS.md."""
