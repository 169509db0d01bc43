"""Benchmarks: not part of the test suite. See the README's Performance section."""
