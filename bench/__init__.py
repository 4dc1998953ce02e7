"""Benchmarks: cold start of the Lambda handler (and, later, load and warm invocations)."""
