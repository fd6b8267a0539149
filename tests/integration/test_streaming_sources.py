"""Streaming sources managed by the operator against a real Kafka broker and Kafka Connect worker:
topics created, raised, refused to shrink and deleted with the pipeline; connectors created with
secrets from Secrets (never shown), paused, restarted when their tasks fail, deleted; the streaming
job's progress mirrored in status. Reconciles are called directly (no operator process)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from dataops.devcluster.controlplane import ControlPlane
from dataops.devcluster.services import ConnectWorker, KafkaBroker
from dataops.kube.client import DATA_PIPELINE, EVENT, POD, KubeClient
from dataops.reconcile.common import Outcome
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from dataops.streams.connect import ConnectClient
from dataops.streams.kafka_admin import KafkaAdmin
from tests.integration.conftest import RUNTIME_IMAGE, condition, wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.streaming]

SECRET_VALUE = "pa55-never-shown"


def _doc(
    ns: str, tmp: Path, *, partitions: int = 2, paused: bool = False, db_port: int = 1
) -> dict[str, Any]:
    (tmp / "lines.txt").write_text("".join(f'{{"id": {i}}}\n' for i in range(5)))
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "orders-stream", "namespace": ns},
        "spec": {
            "mode": "Streaming",
            "sources": [
                {
                    "name": "orders",
                    "kafka": {
                        "topic": f"{ns}.orders",
                        "partitions": partitions,
                        "config": {"retention.ms": "3600000", "cleanup.policy": "delete"},
                        "schema": [{"name": "id", "type": "long"}],
                    },
                },
                {
                    "name": "lines",
                    "connector": {
                        "connectorClass": "org.apache.kafka.connect.file.FileStreamSourceConnector",
                        "config": {"file": str(tmp / "lines.txt"), "topic": f"{ns}.lines"},
                        "paused": paused,
                        "topics": [f"{ns}.lines"],
                    },
                },
                {
                    "name": "cdc",
                    "connector": {
                        # Its task fails at start: the folder of its output file does not exist.
                        "connectorClass": "org.apache.kafka.connect.file.FileStreamSinkConnector",
                        "config": {"file": str(tmp / "missing" / "out.txt"), "topics": f"{ns}.orders"},
                        "configFromSecrets": [
                            {"configKey": "sink.password", "secretKeyRef": {"name": "pg", "key": "password"}}
                        ],
                        "restart": {"maxRestarts": 3, "backoffSeconds": 1, "maxBackoffSeconds": 4},
                    },
                },
            ],
            "sinks": [{"name": "lake", "from": "orders", "format": "delta", "path": str(tmp / "lake")}],
            "spark": {
                "podAnnotations": {"kwok.dataops.dev/hang": "true"}
            },  # a streaming driver keeps running
        },
    }


def _reconcile(cp: ControlPlane, ns: str, config: RunConfig) -> Outcome:
    body = KubeClient.from_kubeconfig(str(cp.kubeconfig)).get(DATA_PIPELINE, ns, "orders-stream")
    assert body is not None
    return reconcile_pipeline(
        KubeClient.from_kubeconfig(str(cp.kubeconfig)), body, config=config, now=datetime.now(UTC)
    )


def _apply(cp: ControlPlane, doc: dict[str, Any]) -> None:
    cp.kubectl("apply", "-f", "-", input=json.dumps(doc))


def _partitions(bootstrap: str, topic: str) -> int | None:
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10)
    return len(metadata.topics[topic].partitions) if topic in metadata.topics else None


def _until(
    cp: ControlPlane, ns: str, config: RunConfig, check: Any, what: str, timeout: float = 60
) -> dict[str, Any]:
    def step() -> Any:
        _reconcile(cp, ns, config)
        body = KubeClient.from_kubeconfig(str(cp.kubeconfig)).get(DATA_PIPELINE, ns, "orders-stream") or {}
        return check(body) and body

    return wait_for(step, timeout=timeout, interval=1.0, what=what)  # type: ignore[no-any-return]


def _connector(body: dict[str, Any], source: str) -> dict[str, Any]:
    return next(c for c in body["status"]["connectors"] if c["source"] == source)


def test_topics_and_connectors_follow_the_pipeline(
    control_plane: ControlPlane,
    kube: KubeClient,
    manual_namespace: str,
    kafka_broker: KafkaBroker,
    connect_worker: ConnectWorker,
    tmp_path: Path,
) -> None:
    ns = manual_namespace
    bootstrap = kafka_broker.bootstrap
    config = RunConfig(image=RUNTIME_IMAGE, kafka_bootstrap=bootstrap, connect_url=connect_worker.url)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pg", "namespace": ns},
        "data": {"password": base64.b64encode(SECRET_VALUE.encode()).decode()},
    }
    _apply(control_plane, secret)
    _apply(control_plane, _doc(ns, tmp_path))
    first = _reconcile(control_plane, ns, config)
    assert "Normal/TopicCreated" in first.events and "Normal/ConnectorCreated" in first.events
    body = kube.get(DATA_PIPELINE, ns, "orders-stream") or {}
    assert "dataops.dev/streaming-cleanup" in body["metadata"]["finalizers"]
    assert _partitions(bootstrap, f"{ns}.orders") == 2 and _partitions(bootstrap, f"{ns}.orders.dlq") == 1
    described = KafkaAdmin(bootstrap).describe([f"{ns}.orders"])[f"{ns}.orders"]
    assert described.config["retention.ms"] == "3600000"
    assert {t["name"]: t["owned"] for t in body["status"]["topics"]} == {
        f"{ns}.orders": True,
        f"{ns}.orders.dlq": True,
    }
    connect = ConnectClient(connect_worker.url)
    # A distributed Connect worker serves a new connector's config once it has read it back from its
    # config topic: under load that is not at once.
    created = wait_for(
        lambda: connect.observe(f"{ns}.orders-stream.cdc"), timeout=30, what="connector config"
    )
    assert created.config["sink.password"] == SECRET_VALUE
    # The streaming job was launched as a continuous run.
    assert body["status"]["currentRun"]["trigger"] == "Continuous" and len(first.launched) == 1

    # The file connector runs; the Debezium task fails and is restarted with backoff, visibly.
    body = _until(
        control_plane,
        ns,
        config,
        lambda b: (
            _connector(b, "lines")["state"] == "RUNNING" and _connector(b, "cdc").get("restarts", 0) >= 1
        ),
        "file connector running, cdc restarted",
    )
    cdc = _connector(body, "cdc")
    assert cdc["tasks"][0]["state"] == "FAILED" and cdc["message"].startswith("task(s) 0 failed: ")
    assert "out.txt" in cdc["message"] and cdc["lastRestartTime"]
    sources = condition(body, "SourcesReady")
    assert sources is not None and sources["status"] == "False" and "connector cdc" in sources["message"]
    events = [e for e in kube.list(EVENT, ns) if e["involvedObject"]["name"] == "orders-stream"]
    assert any(e["reason"] == "ConnectorRestarted" and e["type"] == "Warning" for e in events)
    everything = json.dumps(body) + json.dumps(events)
    assert SECRET_VALUE not in everything

    # Raise partitions: applied. Lower them: refused with a message, topic untouched.
    _apply(control_plane, _doc(ns, tmp_path, partitions=4))
    _reconcile(control_plane, ns, config)
    assert _partitions(bootstrap, f"{ns}.orders") == 4
    _apply(control_plane, _doc(ns, tmp_path, partitions=1))
    _reconcile(control_plane, ns, config)
    body = kube.get(DATA_PIPELINE, ns, "orders-stream") or {}
    orders = next(t for t in body["status"]["topics"] if t["name"] == f"{ns}.orders")
    assert not orders["ready"] and "cannot lower partitions from 4 to 1" in orders["message"]
    assert _partitions(bootstrap, f"{ns}.orders") == 4

    # Pause from the spec.
    _apply(control_plane, _doc(ns, tmp_path, partitions=4, paused=True))
    _until(
        control_plane,
        ns,
        config,
        lambda b: _connector(b, "lines")["state"] == "PAUSED",
        "file connector paused",
    )

    # The driver reports progress on its pod; status mirrors it.
    body = kube.get(DATA_PIPELINE, ns, "orders-stream") or {}
    driver = body["status"]["currentRun"]["driverPod"]  # the job of the current plan (edits replaced it)
    wait_for(lambda: kube.get(POD, ns, driver), what="driver pod")
    progress = {
        "batchId": 7,
        "inputRowsPerSecond": 120.5,
        "processedRowsPerSecond": 300.0,
        "consumerLag": 42,
        "deadLettered": 3,
        "lastBatchTime": "2026-11-25T10:00:00Z",
        "state": "Running",
    }
    kube.patch(
        POD,
        ns,
        driver,
        {"metadata": {"annotations": {"dataops.dev/streaming-progress": json.dumps(progress)}}},
    )
    body = _until(
        control_plane,
        ns,
        config,
        lambda b: (b["status"].get("streaming") or {}).get("batchId") == 7,
        "streaming progress in status",
    )
    assert (
        body["status"]["streaming"]["consumerLag"] == 42 and body["status"]["streaming"]["deadLettered"] == 3
    )

    # Deletion: connectors and owned topics go, then the finalizer.
    control_plane.kubectl("-n", ns, "delete", "dp", "orders-stream", "--wait=false")
    _reconcile(control_plane, ns, config)
    wait_for(lambda: kube.get(DATA_PIPELINE, ns, "orders-stream") is None, what="pipeline gone")
    assert (
        connect.observe(f"{ns}.orders-stream.cdc") is None
        and connect.observe(f"{ns}.orders-stream.lines") is None
    )
    deadline = time.monotonic() + 30
    while _partitions(bootstrap, f"{ns}.orders") is not None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert (
        _partitions(bootstrap, f"{ns}.orders") is None and _partitions(bootstrap, f"{ns}.orders.dlq") is None
    )
