"""Streaming pipelines end to end on real Kafka and Spark: exactly the records produced land in the
sink, malformed ones go to the dead-letter topic, a broker outage or a killed job loses and
duplicates nothing, and Debezium changes from PostgreSQL arrive as the latest state per key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.devcluster.services import ConnectWorker, KafkaBroker, Postgres
from dataops.lineage.connectors import connector_emitter, emit_connector_run
from dataops.lineage.receiver import LineageReceiver
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import pipeline_emitter
from dataops.runtime.streaming import StreamingRun, StreamingSettings
from dataops.runtime.summary import RunSummary
from dataops.streams.connect import ConnectClient
from tests.conftest import ROOT
from tests.streaming.kafka_helpers import consume_all, create_topic, produce, produce_json

pytestmark = [pytest.mark.streaming, pytest.mark.spark]

SCHEMA = [
    {"name": "id", "type": "long", "nullable": False},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": "double"},
]


def _pipeline(topic: str, sink: Path, bootstrap: str, **sink_extra: Any) -> DataPipeline:
    return DataPipeline.model_validate(
        {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPipeline",
            "metadata": {"name": f"stream-{topic}", "namespace": "sales"},
            "spec": {
                "mode": "Streaming",
                "sources": [
                    {
                        "name": "orders",
                        "kafka": {
                            "topic": topic,
                            "bootstrapServers": bootstrap,
                            "schema": SCHEMA,
                            **sink_extra.pop("kafka", {}),
                        },
                    }
                ],
                "transforms": [
                    {
                        "name": "priced",
                        "sql": "SELECT id, upper(customer) AS customer, amount * 2 AS doubled FROM orders",
                    }
                ],
                "sinks": [
                    {
                        "name": "lake",
                        "from": sink_extra.pop("from_", "priced"),
                        "format": "delta",
                        "path": str(sink),
                        **sink_extra,
                    }
                ],
                "streaming": {"triggerIntervalSeconds": 1, "maxOffsetsPerTrigger": 700},
            },
        }
    )


def _rows(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [{"id": i, "customer": f"c{i % 7}", "amount": float(i)} for i in range(start, start + n)]


def _run(
    spark: SparkSession, pipeline: DataPipeline, lineage_url: str | None = None, **settings: Any
) -> RunSummary:
    plan = build_run_plan(name=pipeline.metadata.name, namespace="sales", spec=pipeline.spec)
    lineage = pipeline_emitter(plan, lineage_url) if lineage_url else None
    return StreamingRun(
        spark, plan, run_id="r1", settings=StreamingSettings(**settings), lineage=lineage
    ).run()


def _ids(spark: SparkSession, path: Path) -> list[int]:
    return [r["id"] for r in spark.read.format("delta").load(str(path)).select("id").collect()]


def test_exactly_the_produced_records_land_and_bad_ones_are_dead_lettered(
    spark: SparkSession, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, "orders-a", partitions=3)
    create_topic(bootstrap, "orders-a.dlq")
    produce_json(bootstrap, "orders-a", _rows(2000))
    produce(
        bootstrap,
        "orders-a",
        ["{broken", json.dumps({"customer": "no id"}), json.dumps({"id": "x"})],
        ["b1", "b2", "b3"],
    )
    produce_json(bootstrap, "orders-a", _rows(1000, start=2000))
    pipeline = _pipeline("orders-a", tmp_path / "lake", bootstrap)
    assert pipeline.spec.streaming is not None
    pipeline.spec.streaming.max_offsets_per_trigger = 2000
    summary = _run(spark, pipeline, available_now=True)
    assert summary.outcome == "Succeeded", summary.error
    table = spark.read.format("delta").load(str(tmp_path / "lake"))
    assert table.count() == 3000 and sorted(_ids(spark, tmp_path / "lake")) == list(range(3000))
    assert table.where("id = 15").collect()[0].asDict() == {"id": 15, "customer": "C1", "doubled": 30.0}
    assert summary.rows_read == {"orders": 3003} and summary.rows_written == {"lake": None}
    assert "3 record(s) sent to dead-letter topic orders-a.dlq" in summary.warnings
    dead = consume_all(bootstrap, "orders-a.dlq", expected=3)
    reasons = sorted(dict((k, v.decode()) for k, v in m.headers())["dataops.reason"] for m in dead)
    assert reasons == [
        "malformed: not JSON of the declared schema",
        "malformed: not JSON of the declared schema",
        "missing required field id",
    ]
    assert sorted(m.value().decode() for m in dead)[0] == '{"customer": "no id"}'


def test_broker_outage_mid_stream_loses_and_duplicates_nothing(
    spark: SparkSession, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, "orders-b", partitions=2)
    produce_json(bootstrap, "orders-b", _rows(3000))
    pipeline = _pipeline("orders-b", tmp_path / "lake", bootstrap)
    plan = build_run_plan(name=pipeline.metadata.name, namespace="sales", spec=pipeline.spec)
    run = StreamingRun(spark, plan, run_id="r1", settings=StreamingSettings())
    stop = threading.Event()
    result: list[RunSummary] = []
    worker = threading.Thread(target=lambda: result.append(run.run(stop=stop)))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while run.counters.batches < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run.counters.batches >= 2
        kafka_broker.stop()  # mid-stream: 3000 records at 700 per batch take 5 batches
        time.sleep(3)
        kafka_broker.start()
        produce_json(bootstrap, "orders-b", _rows(2000, start=3000))
        deadline = time.monotonic() + 120
        while run.counters.rows_parsed < 5000 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        worker.join(60)
    assert result and result[0].outcome == "Succeeded", result and result[0].error
    ids = _ids(spark, tmp_path / "lake")
    assert len(ids) == 5000 and sorted(ids) == list(range(5000))


def test_killed_job_resumes_from_its_checkpoint_without_duplicates(
    kafka_broker: KafkaBroker, tmp_path: Path, spark: SparkSession
) -> None:
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, "orders-c", partitions=2)
    produce_json(bootstrap, "orders-c", _rows(6000))
    manifest = tmp_path / "pipeline.yaml"
    manifest.write_text(yaml.safe_dump(_pipeline("orders-c", tmp_path / "lake", bootstrap).to_json()))
    command = [sys.executable, "-m", "dataops.cli", "run", "-f", str(manifest), "--master", "local[2]"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen(
        [*command],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    assert job.stdout is not None
    try:
        for line in job.stdout:  # kill the job hard as soon as it has committed two micro-batches
            if "batchId=1" in line:
                break
        os.killpg(job.pid, signal.SIGKILL)
    finally:
        job.wait(30)
    committed = len(_ids(spark, tmp_path / "lake"))
    assert 0 < committed < 6000
    rerun = subprocess.run(
        [*command, "--available-now"], capture_output=True, text=True, env=env, timeout=300
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ids = _ids(spark, tmp_path / "lake")
    assert len(ids) == 6000 and sorted(ids) == list(range(6000))


def test_debezium_changes_reach_the_sink_as_latest_state_per_key(
    spark: SparkSession,
    kafka_broker: KafkaBroker,
    connect_worker: ConnectWorker,
    postgres: Postgres,
    tmp_path: Path,
    receiver: LineageReceiver,
) -> None:
    """Also the lineage of real parts: the connector's event (sent as the operator sends it when it
    puts the config, with the topics Connect itself reports) and the streaming job's events meet
    in one graph: connector -> topic -> job -> table."""
    postgres.sql(
        "CREATE TABLE customers (id bigint PRIMARY KEY, customer text, amount double precision);"
        "ALTER TABLE customers REPLICA IDENTITY FULL;"
        "INSERT INTO customers SELECT g, 'c' || g, g * 1.5 FROM generate_series(1, 50) g;"
    )
    connect = ConnectClient(connect_worker.url)
    connect.put_config(
        "customers-cdc",
        {
            **postgres.debezium_config(prefix="shop", table="customers", slot="customers_slot"),
            "decimal.handling.mode": "double",
        },
    )
    try:
        topic = "shop.public.customers"
        assert len(consume_all(kafka_broker.bootstrap, topic, expected=50, timeout=90)) == 50
        postgres.sql(
            "UPDATE customers SET amount = amount + 1000 WHERE id <= 10;"
            "DELETE FROM customers WHERE id BETWEEN 41 AND 45;"
            "INSERT INTO customers VALUES (51, 'new', 1.0), (52, 'newer', 2.0);"
            "UPDATE customers SET customer = 'renamed' WHERE id = 51;"
        )
        assert len(consume_all(kafka_broker.bootstrap, topic, expected=50 + 10 + 10 + 3, timeout=90)) >= 73
        pipeline = _pipeline(
            topic,
            tmp_path / "customers",
            kafka_broker.bootstrap,
            mode="merge",
            mergeKeys=["id"],
            from_="orders",
            kafka={"format": "debezium"},
        )
        pipeline.spec.transforms = []
        with urllib.request.urlopen(f"{connect_worker.url}/connectors/customers-cdc/topics") as resp:
            reported = json.loads(resp.read())["customers-cdc"]["topics"]
        assert topic in reported
        operator_side = connector_emitter(
            receiver.url,
            namespace="sales",
            pipeline=pipeline.metadata.name,
            uid="0d5e2c1a-0000-4000-8000-00000000cdc0",
            connector="customers-cdc",
            connector_class="io.debezium.connector.postgresql.PostgresConnector",
        )
        assert emit_connector_run(
            operator_side, config={"table": "customers"}, topics=reported, bootstrap=kafka_broker.bootstrap
        )
        summary = _run(spark, pipeline, receiver.url, available_now=True)
        assert summary.outcome == "Succeeded", summary.error
        graph = json.loads(urllib.request.urlopen(f"{receiver.url}/api/v1/graph", timeout=10).read())
        edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
        host = kafka_broker.bootstrap.split(",")[0].lower()
        topic_node = f"dataset:kafka://{host}:{topic}"
        connector_node = "job:dataops://sales:customers-cdc"
        job_node = f"job:dataops://sales:{pipeline.metadata.name}"
        table_node = f"dataset:file:{tmp_path / 'customers'}"
        assert {
            (connector_node, "output", topic_node),
            (topic_node, "input", job_node),
            (job_node, "output", table_node),
            (job_node, "parent", connector_node),
        } <= edges, edges
        states = [e["eventType"] for e in receiver.store.events if e["job"]["name"] == pipeline.metadata.name]
        assert states[0] == "START" and states[-1] == "COMPLETE", states
        expected = sorted(
            tuple(line.split("|"))
            for line in postgres.sql("SELECT id, customer, amount FROM customers").split()
        )
        table = spark.read.format("delta").load(str(tmp_path / "customers")).collect()
        actual = sorted((str(r["id"]), r["customer"], f"{r['amount']:g}") for r in table)
        assert [(i, c, f"{float(a):g}") for i, c, a in expected] == actual
        assert len(actual) == 47
    finally:
        connect.delete("customers-cdc")
