"""Streaming pipelines end to end on real Kafka and Spark: exactly the records produced land in the
sink, malformed ones go to the dead-letter topic, a broker outage or a killed job loses and
duplicates nothing, and Debezium changes from PostgreSQL arrive as the latest state per key."""

from __future__ import annotations

import json
import os
import shutil
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

from dataops.api.v1alpha1.datapipeline import DataLossPolicy, DataPipeline, QualityGate
from dataops.devcluster.services import ConnectWorker, KafkaBroker, Postgres
from dataops.lineage.connectors import connector_emitter, emit_connector_run
from dataops.lineage.receiver import LineageReceiver
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import pipeline_emitter
from dataops.runtime.streaming import StreamingRun, StreamingSettings
from dataops.runtime.summary import RunSummary
from dataops.streams.connect import ConnectClient
from tests.conftest import ROOT
from tests.streaming.kafka_helpers import consume_all, consume_to_end, create_topic, produce, produce_json

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
    dead = consume_to_end(bootstrap, "orders-a.dlq")  # all of it: a duplicate would show
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


def _mixed_records(bootstrap: str, topic: str, good: int, bad_every: int) -> int:
    """``good`` valid rows with a malformed record after every ``bad_every``; returns the bad count."""
    create_topic(bootstrap, topic, partitions=3)
    create_topic(bootstrap, f"{topic}.dlq", partitions=2)
    bad = 0
    for start in range(0, good, bad_every):
        produce_json(bootstrap, topic, _rows(min(bad_every, good - start), start=start))
        produce(bootstrap, topic, [f"{{broken {start}"], [f"bad-{start}"])
        bad += 1
    return bad


def _dead_letters(bootstrap: str, topic: str) -> list[tuple[int, int]]:
    """The source (partition, offset) of every record on the dead-letter topic, duplicates kept."""
    found = consume_to_end(bootstrap, f"{topic}.dlq")
    positions = []
    for message in found:
        headers = {k: v.decode() for k, v in message.headers()}
        positions.append((int(headers["dataops.source.partition"]), int(headers["dataops.source.offset"])))
    return positions


@pytest.mark.parametrize("failpoint", ["after-sinks:1", "after-dead-letters:1"])
def test_driver_killed_mid_batch_lands_each_record_and_dead_letter_once(
    kafka_broker: KafkaBroker, tmp_path: Path, spark: SparkSession, failpoint: str
) -> None:
    """The driver is SIGKILLed (injected, not waited for) between the sinks' commit and the
    checkpoint's commit, or between the dead-letter write and its done marker: the replayed batch
    adds nothing twice, to the sink or to the dead-letter topic."""
    bootstrap = kafka_broker.bootstrap
    topic = f"orders-k{failpoint.split(':')[0].replace('-', '')[:10]}"
    bad = _mixed_records(bootstrap, topic, 3000, 100)
    manifest = tmp_path / "pipeline.yaml"
    manifest.write_text(yaml.safe_dump(_pipeline(topic, tmp_path / "lake", bootstrap).to_json()))
    command = [sys.executable, "-m", "dataops.cli", "run", "-f", str(manifest), "--master", "local[2]"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    killed = subprocess.run(
        [*command, "--available-now"],
        capture_output=True,
        text=True,
        env={**env, "DATAOPS_FAILPOINT": failpoint},
        timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert 0 < len(_dead_letters(bootstrap, topic)) < bad  # part of the dead letters went out
    rerun = subprocess.run(
        [*command, "--available-now"], capture_output=True, text=True, env=env, timeout=600
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    ids = _ids(spark, tmp_path / "lake")
    assert len(ids) == 3000 and sorted(ids) == list(range(3000))
    letters = _dead_letters(bootstrap, topic)
    assert len(letters) == bad and len(set(letters)) == bad, sorted(letters)


def test_a_new_checkpoint_at_the_same_path_is_not_skipped_by_delta(
    kafka_broker: KafkaBroker, tmp_path: Path, spark: SparkSession
) -> None:
    """Deleting the checkpoint starts the batch ids at 0 again. Delta's transaction id must come from
    the new checkpoint, not its path, or Delta takes batch 0 for one it committed and skips it."""
    bootstrap = kafka_broker.bootstrap
    create_topic(bootstrap, "orders-n", partitions=1)
    produce_json(bootstrap, "orders-n", _rows(100))
    pipeline = _pipeline("orders-n", tmp_path / "lake", bootstrap)
    first = _run(spark, pipeline, available_now=True)
    assert first.outcome == "Succeeded", first.error
    assert sorted(_ids(spark, tmp_path / "lake")) == list(range(100))
    shutil.rmtree(tmp_path / "lake" / "_dataops_checkpoint")
    produce_json(bootstrap, "orders-n", _rows(50, start=100))
    again = _run(spark, pipeline, available_now=True)
    assert again.outcome == "Succeeded", again.error
    ids = _ids(spark, tmp_path / "lake")
    # the new checkpoint reads the topic from the start: 150 more rows, none skipped
    assert len(ids) == 250 and set(ids) == set(range(150))


def _delete_below(bootstrap: str, topic: str, offset: int) -> None:
    from confluent_kafka import TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, offset)]).values():
        future.result(30)


@pytest.mark.parametrize("on_data_loss", ["Continue", "Fail"])
def test_offsets_deleted_before_they_were_read_are_counted_or_stop_the_job(
    kafka_broker: KafkaBroker, tmp_path: Path, spark: SparkSession, on_data_loss: str
) -> None:
    """While the job is stopped, records it has not read are deleted from the topic. Continue reads
    on and reports exactly how many it skipped; Fail (the default) stops with the reason."""
    bootstrap = kafka_broker.bootstrap
    topic = f"orders-loss-{on_data_loss.lower()}"
    create_topic(bootstrap, topic, partitions=1)
    produce_json(bootstrap, topic, _rows(100))
    pipeline = _pipeline(topic, tmp_path / "lake", bootstrap)
    assert pipeline.spec.streaming is not None
    pipeline.spec.streaming.on_data_loss = DataLossPolicy(on_data_loss)
    first = _run(spark, pipeline, available_now=True)
    assert first.outcome == "Succeeded", first.error
    produce_json(bootstrap, topic, _rows(50, start=100))  # offsets 100..149
    _delete_below(bootstrap, topic, 130)  # 100..129 are gone before the job read them
    again = _run(spark, pipeline, available_now=True)
    ids = sorted(_ids(spark, tmp_path / "lake"))
    if on_data_loss == "Continue":
        assert again.outcome == "Succeeded", again.error
        assert ids == [*range(100), *range(130, 150)]
        assert any(w.startswith(f"30 offset(s) of {topic} were deleted") for w in again.warnings), (
            again.warnings
        )
    else:
        assert again.outcome == "Failed"
        assert again.error is not None
        assert f"offsets of topic {topic} were deleted before they were read" in again.error, again.error
        assert "onDataLoss: Continue" in again.error and "\n" not in again.error
        assert ids == list(range(100))


def test_connect_worker_killed_and_broker_stopped_mid_stream_lose_nothing(
    spark: SparkSession,
    kafka_broker: KafkaBroker,
    connect_worker: ConnectWorker,
    postgres: Postgres,
    tmp_path: Path,
) -> None:
    """Debezium -> Kafka -> streaming merge while the Connect worker is SIGKILLed and the broker is
    stopped for a while, with changes made in PostgreSQL meanwhile: once everything is back the sink
    holds exactly the table's state (replayed change events are merged idempotently by key)."""
    postgres.sql(
        "CREATE TABLE accounts (id bigint PRIMARY KEY, customer text, amount double precision);"
        "ALTER TABLE accounts REPLICA IDENTITY FULL;"
        "INSERT INTO accounts SELECT g, 'a' || g, g * 2.0 FROM generate_series(1, 200) g;"
    )
    connect = ConnectClient(connect_worker.url)
    config = {
        **postgres.debezium_config(prefix="bank", table="accounts", slot="accounts_slot"),
        "decimal.handling.mode": "double",
    }
    connect.put_config("accounts-cdc", config)
    pipeline = _pipeline(
        "bank.public.accounts",
        tmp_path / "accounts",
        kafka_broker.bootstrap,
        mode="merge",
        mergeKeys=["id"],
        from_="orders",
        kafka={"format": "debezium"},
    )
    pipeline.spec.transforms = []
    plan = build_run_plan(name=pipeline.metadata.name, namespace="sales", spec=pipeline.spec)
    run = StreamingRun(spark, plan, run_id="r1", settings=StreamingSettings())
    stop = threading.Event()
    result: list[RunSummary] = []
    worker = threading.Thread(target=lambda: result.append(run.run(stop=stop)))

    def table() -> list[tuple[str, str, str]]:
        rows = postgres.sql("SELECT id, customer, amount FROM accounts ORDER BY id").split()
        return [(i, c, f"{float(a):g}") for i, c, a in (r.split("|") for r in rows)]

    def sink() -> list[tuple[str, str, str]]:
        try:
            found = spark.read.format("delta").load(str(tmp_path / "accounts")).collect()
        except Exception:  # not created yet
            return []
        return sorted(
            ((str(r["id"]), r["customer"], f"{r['amount']:g}") for r in found), key=lambda t: int(t[0])
        )

    def wait_until_sink_is_table(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and sink() != table():
            time.sleep(2)

    worker.start()
    try:
        wait_until_sink_is_table(120)
        assert len(sink()) == 200
        connect_worker.kill()  # a crash: no graceful shutdown, offsets flushed at most a second ago
        postgres.sql(
            "UPDATE accounts SET amount = amount + 1000 WHERE id <= 50;"
            "DELETE FROM accounts WHERE id BETWEEN 191 AND 200;"
            "INSERT INTO accounts SELECT g, 'b' || g, g * 3.0 FROM generate_series(201, 250) g;"
        )
        kafka_broker.stop()
        time.sleep(3)
        kafka_broker.start()
        connect_worker.start()  # same group: the connector resumes from its stored offsets
        postgres.sql("UPDATE accounts SET customer = 'renamed' WHERE id IN (1, 201);")
        wait_until_sink_is_table(240)
    finally:
        stop.set()
        worker.join(120)
        if connect_worker.proc is None:
            connect_worker.start()
        connect.delete("accounts-cdc")
    assert result and result[0].outcome == "Succeeded", result and result[0].error
    assert sink() == table()
    assert len(table()) == 240


@pytest.mark.parametrize("action", ["block", "warn"])
def test_quality_gates_check_every_micro_batch_before_it_is_written(
    kafka_broker: KafkaBroker, tmp_path: Path, spark: SparkSession, action: str
) -> None:
    """A blocking gate that fails on a micro-batch stops the job with the gate's message and nothing
    of that batch reaches the sink (the batches before it stay); a warning gate lets every batch
    through and says in how many batches its expectations failed."""
    bootstrap = kafka_broker.bootstrap
    topic = f"orders-gate-{action}"
    create_topic(bootstrap, topic, partitions=1)
    rows = _rows(1000)
    for row in rows[800:810]:
        row["amount"] = -1.0  # in the second micro-batch (700 per batch)
    produce_json(bootstrap, topic, rows)
    pipeline = _pipeline(topic, tmp_path / "lake", bootstrap)
    pipeline.spec.quality_gates = [
        QualityGate.model_validate({"suiteRef": {"name": "prices"}, "action": action})
    ]
    suite = {
        "expectations": [
            {"type": "expect_column_values_to_be_between", "column": "doubled", "minValue": 0},
            {"type": "expect_column_values_to_not_be_null", "column": "id"},
        ]
    }
    plan = build_run_plan(
        name=pipeline.metadata.name, namespace="sales", spec=pipeline.spec, suites={"prices": suite}
    )
    summary = StreamingRun(spark, plan, run_id="r1", settings=StreamingSettings(available_now=True)).run()
    ids = sorted(_ids(spark, tmp_path / "lake"))
    if action == "block":
        assert summary.outcome == "Failed" and summary.error is not None
        assert summary.error.startswith("micro-batch 1: quality gate 'prices on priced'"), summary.error
        assert (
            "expect_column_values_to_be_between" in summary.error and "nothing was written" in summary.error
        )
        assert ids == list(range(700))
    else:
        assert summary.outcome == "Succeeded", summary.error
        assert ids == list(range(1000))
        assert "quality gate prices on priced: expectations failed in 1 micro-batch(es)" in summary.warnings
