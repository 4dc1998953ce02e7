"""One-time bootstrap of CI access to AWS (GitHub OIDC roles, Pulumi state backend)."""
