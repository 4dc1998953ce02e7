"""Migration tooling: the destructive-operation lint and the previous-release compatibility run."""
