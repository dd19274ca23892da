"""Benchmark harnesses (not timed tests): run them as modules, they print and write results."""
