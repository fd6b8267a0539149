"""A local control plane for development and tests."""
