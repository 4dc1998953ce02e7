"""Alembic migrations (async env) and the advisory-locked runner."""
