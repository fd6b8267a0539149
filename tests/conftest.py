"""Shared test fixtures."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession

from dataops.devcluster.services import ConnectWorker, KafkaBroker, Postgres
from dataops.lineage.receiver import LineageReceiver, LineageStore
from dataops.lineage.validate import EventValidator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def example_pipeline() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "03-orders-pipeline.yaml").read_text())
    return copy.deepcopy(doc)


@pytest.fixture
def example_suite() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "01-quality-suite.yaml").read_text())
    return copy.deepcopy(doc)


@pytest.fixture
def example_policy() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "02-policy.yaml").read_text())
    return copy.deepcopy(doc)


# -- real streaming services (started once per session, only by the tests that ask for them) ------


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka")).start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def connect_worker(
    kafka_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConnectWorker]:
    worker = ConnectWorker(tmp_path_factory.mktemp("connect"), kafka_broker.bootstrap).start()
    yield worker
    worker.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = Postgres(tmp_path_factory.mktemp("postgres") / "pg").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession (Delta Lake, JDBC drivers, the Kafka source) for all Spark tests."""
    from dataops.runtime.session import local_session

    session = local_session(master="local[2]", app_name="dataops-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def bundled_validator() -> EventValidator:
    return EventValidator.bundled()


@pytest.fixture
def receiver(bundled_validator: EventValidator) -> Iterator[LineageReceiver]:
    """A running `dataops lineage serve` receiver: validates each event, builds the graph."""
    server = LineageReceiver(LineageStore(bundled_validator)).start()
    yield server
    server.stop()
