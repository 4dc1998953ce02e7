"""Resilience: the service under lost dependencies, shutdown and concurrent writes."""
