"""Typed API: the single source of truth for CRDs, the operator and the CLI."""
