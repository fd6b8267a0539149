"""A running `dataops lineage serve` receiver for the lineage graph tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dataops.lineage.receiver import LineageReceiver, LineageStore
from dataops.lineage.validate import EventValidator


@pytest.fixture(scope="session")
def bundled_validator() -> EventValidator:
    return EventValidator.bundled()


@pytest.fixture
def receiver(bundled_validator: EventValidator) -> Iterator[LineageReceiver]:
    server = LineageReceiver(LineageStore(bundled_validator)).start()
    yield server
    server.stop()
