"""Hostile input: schema-driven fuzzing and explicit malformed, oversized and unicode requests."""
