"""Connector -> topic -> streaming job -> table: the operator's connector event and the streaming
job's events name the topic the same way, so the receiver joins them into one path."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import RunState

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.lineage.connectors import connector_emitter, emit_connector_run, pipeline_object_run
from dataops.lineage.receiver import LineageReceiver
from dataops.plan.connectors import connector_name
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import pipeline_emitter
from dataops.runtime.streaming import StreamingRun, StreamingSettings

SCHEMA = [{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]


def _pipeline(sink: Path, *, bootstrap: str | None) -> DataPipeline:
    kafka: dict[str, Any] = {"topic": "shop.public.customers", "format": "debezium", "schema": SCHEMA}
    if bootstrap:
        kafka["bootstrapServers"] = bootstrap
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "cdc", "namespace": "shop"},
            "spec": {
                "mode": "Streaming",
                "sources": [
                    {
                        "name": "capture",
                        "connector": {
                            "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
                            "config": {"database.hostname": "db", "topic.prefix": "shop"},
                            "topics": ["shop.public.customers"],
                        },
                    },
                    {"name": "customers", "kafka": kafka},
                ],
                "sinks": [{"name": "lake", "from": "customers", "format": "delta", "path": f"{sink}/"}],
            },
        }
    )


def _graph(receiver: LineageReceiver) -> dict[str, Any]:
    with urllib.request.urlopen(f"{receiver.url}/api/v1/graph", timeout=10) as response:
        graph: dict[str, Any] = json.loads(response.read())
    return graph


def test_connector_topic_streaming_job_and_table_are_one_path(
    tmp_path: Path, receiver: LineageReceiver
) -> None:
    # The operator's default bootstrap (DATAOPS_KAFKA_BOOTSTRAP) is spelled one way for the operator
    # and another for the driver pod: both name the topic kafka://broker:9092.
    pipeline = _pipeline(tmp_path / "customers", bootstrap=None)
    cname = connector_name("shop", "cdc", "capture")
    operator_side = connector_emitter(
        receiver.url,
        namespace="shop",
        pipeline="cdc",
        uid="6b1f0c1e-0000-4000-8000-000000000001",
        connector=cname,
        connector_class="io.debezium.connector.postgresql.PostgresConnector",
    )
    source = pipeline.spec.sources[0].connector
    assert source is not None
    sent = emit_connector_run(operator_side, config={"a": "1"}, topics=source.topics, bootstrap="broker:9092")
    assert sent

    plan = build_run_plan(name="cdc", namespace="shop", spec=pipeline.spec)
    streaming = StreamingRun(
        None,  # type: ignore[arg-type]  # the lineage datasets need no Spark session
        plan,
        run_id="s1",
        settings=StreamingSettings(bootstrap="PLAINTEXT://Broker:9092,other:9092"),
        lineage=pipeline_emitter(plan, receiver.url),
    )
    inputs, outputs = streaming.lineage_datasets()
    assert streaming.lineage is not None
    streaming.lineage.emit(RunState.START, run_id="s1", inputs=inputs, outputs=outputs)

    graph = _graph(receiver)
    edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
    topic = "dataset:kafka://broker:9092:shop.public.customers"
    connector, job = f"job:dataops://shop:{cname}", "job:dataops://shop:cdc"
    table = f"dataset:file:{tmp_path / 'customers'}"
    assert edges == {
        (connector, "output", topic),
        (topic, "input", job),
        (job, "output", table),
        (job, "parent", connector),
    }
    runs = {r["job"]: r for r in graph["runs"]}
    assert runs[connector]["parent"] == {
        "runId": pipeline_object_run("shop", "cdc", "6b1f0c1e-0000-4000-8000-000000000001").run_id,
        "job": job,
    }
    events = json.loads(urllib.request.urlopen(f"{receiver.url}/api/v1/events", timeout=10).read())
    job_types = {e["job"]["name"]: e["job"]["facets"]["jobType"] for e in events}
    assert job_types[cname]["processingType"] == "STREAMING"
    assert job_types[cname]["integration"] == "KAFKA_CONNECT"
    assert job_types["cdc"]["processingType"] == "STREAMING"


def test_a_connector_event_that_cannot_be_sent_does_not_raise(tmp_path: Path) -> None:
    emitter = connector_emitter(
        f"file:{tmp_path / 'missing-folder' / 'events.jsonl'}",
        namespace="shop",
        pipeline="cdc",
        uid="u",
        connector="shop.cdc.capture",
        connector_class="X",
    )
    assert emit_connector_run(emitter, config={}, topics=["t"], bootstrap=None) is False


def test_connector_run_id_follows_its_config() -> None:
    emitter = connector_emitter(
        "none", namespace="shop", pipeline="cdc", uid="u", connector="shop.cdc.capture", connector_class="X"
    )
    for config in ({"a": "1"}, {"a": "1"}, {"a": "2"}):
        emit_connector_run(emitter, config=config, topics=["t"], bootstrap="b:1")
    first, same, changed = (e["run"]["runId"] for e in emitter.events)
    assert first == same != changed
    assert [(o["namespace"], o["name"]) for o in emitter.events[0]["outputs"]] == [("kafka://b:1", "t")]
