"""The real streaming services the project's scripts install: a KRaft broker, a Kafka Connect worker
with the Debezium PostgreSQL plugin, and PostgreSQL with logical decoding."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from dataops.devcluster.services import ConnectWorker, KafkaBroker, Postgres
from dataops.streams.connect import ConnectClient
from tests.streaming.kafka_helpers import consume_all, create_topic, produce

pytestmark = pytest.mark.streaming


def test_broker_keeps_messages_across_a_restart(kafka_broker: KafkaBroker) -> None:
    create_topic(kafka_broker.bootstrap, "smoke", partitions=2)
    produce(kafka_broker.bootstrap, "smoke", [f"m{i}" for i in range(1000)])
    assert len(consume_all(kafka_broker.bootstrap, "smoke", expected=1000)) == 1000
    kafka_broker.stop()
    kafka_broker.start()
    values = sorted(m.value().decode() for m in consume_all(kafka_broker.bootstrap, "smoke", expected=1000))
    assert values == sorted(f"m{i}" for i in range(1000))


def test_connect_lists_the_installed_plugins(connect_worker: ConnectWorker) -> None:
    plugins = connect_worker.plugins()
    assert "io.debezium.connector.postgresql.PostgresConnector" in plugins
    assert "org.apache.kafka.connect.file.FileStreamSourceConnector" in plugins


def _wait_running(connect: ConnectClient, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        observed = connect.observe(name)
        if (
            observed
            and observed.state == "RUNNING"
            and observed.tasks
            and all(t.state == "RUNNING" for t in observed.tasks)
        ):
            return
        time.sleep(0.5)
    raise AssertionError(f"connector {name} not running: {connect.observe(name)}")


def test_debezium_captures_inserts_updates_and_deletes(
    kafka_broker: KafkaBroker, connect_worker: ConnectWorker, postgres: Postgres
) -> None:
    postgres.sql(
        "CREATE TABLE smoke_customers (id int PRIMARY KEY, name text, tier text);"
        "ALTER TABLE smoke_customers REPLICA IDENTITY FULL;"
        "INSERT INTO smoke_customers VALUES (1, 'Ada', 'gold'), (2, 'Grace', 'silver');"
    )
    connect = ConnectClient(connect_worker.url)
    config = {
        **postgres.debezium_config(prefix="smoke", table="smoke_customers", slot="smoke_slot"),
        "snapshot.mode": "initial",
    }
    connect.put_config("smoke-cdc", config)
    try:
        _wait_running(connect, "smoke-cdc")
        topic = "smoke.public.smoke_customers"
        snapshot = consume_all(kafka_broker.bootstrap, topic, expected=2)
        assert sorted(json.loads(m.value())["op"] for m in snapshot) == ["r", "r"]
        postgres.sql(
            "INSERT INTO smoke_customers VALUES (3, 'Edsger', 'bronze');"
            "UPDATE smoke_customers SET tier = 'platinum' WHERE id = 1;"
            "DELETE FROM smoke_customers WHERE id = 2;"
        )
        messages = consume_all(kafka_broker.bootstrap, topic, expected=6)
        changes: list[tuple[str, Any]] = [
            (json.loads(m.key())["id"], json.loads(m.value())["op"] if m.value() else None) for m in messages
        ]
        assert changes[2:] == [(3, "c"), (1, "u"), (2, "d"), (2, None)]  # None: the tombstone
        update = json.loads(messages[3].value())
        assert update["before"]["tier"] == "gold" and update["after"]["tier"] == "platinum"
    finally:
        connect.delete("smoke-cdc")  # each test uses its own slot and publication


def test_connect_rest_reports_connector_state(connect_worker: ConnectWorker) -> None:
    with urllib.request.urlopen(f"{connect_worker.url}/", timeout=5) as response:
        assert json.loads(response.read())["version"].startswith("4.1")


def test_a_second_reconcile_of_a_running_connector_writes_nothing(
    connect_worker: ConnectWorker, kafka_broker: KafkaBroker, tmp_path: Any
) -> None:
    """Connect hands back the stored config with ``name`` added: that alone must not look like drift
    (it used to re-PUT the config, restarting the connector on every reconcile)."""
    from datetime import UTC, datetime

    from dataops.api.v1alpha1.datapipeline import ConnectorSource
    from dataops.plan.connectors import desired_config, plan_connector

    source_file = tmp_path / "lines.txt"
    source_file.write_text("a\n")
    source = ConnectorSource.model_validate(
        {
            "connectorClass": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "config": {"file": str(source_file), "topic": "drift-check"},
        }
    )
    connect = ConnectClient(connect_worker.url)
    name = "ns.drift.lines"
    desired = desired_config(source, {})
    connect.put_config(name, desired)
    try:
        _wait_running(connect, name)
        observed = connect.observe(name)
        assert observed is not None and "name" in observed.config
        actions = plan_connector(
            name=name,
            source_name="lines",
            source=source,
            desired=desired,
            observed=observed,
            previous=None,
            restart_requested=False,
            now=datetime.now(UTC),
        )
        assert not (actions.put_config or actions.pause or actions.resume or actions.restart)
        assert actions.events == []
    finally:
        connect.delete(name)
