"""Repository tooling run by make targets (not part of the service image)."""
