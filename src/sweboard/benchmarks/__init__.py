"""Benchmarks and developer checks: they print numbers (speed, overhead, grading figures, mutation
scores) and run on the test equipment. Never part of a run; nothing in the pipeline imports them.
"""
