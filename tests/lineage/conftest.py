"""The lineage receiver fixtures (``receiver``, ``bundled_validator``) live in tests/conftest.py,
shared with the streaming tests that check lineage on real Kafka and Connect."""
