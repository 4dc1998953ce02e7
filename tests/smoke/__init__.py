"""Tests of the deployed-service smoke test (scripts/smoke.py)."""
