"""Benchmarks (`make bench`). Speed and memory targets live here, never in unit tests."""
