"""The control plane fixtures of tests/integration, for the overlay dry-run tests (marked cluster)."""

from tests.integration.conftest import control_plane, namespace

__all__ = ["control_plane", "namespace"]
