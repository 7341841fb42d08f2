"""Benchmark tools: a synthetic province generator and a hand-written baseline grader."""
