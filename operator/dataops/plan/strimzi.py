"""Strimzi resources instead of direct Kafka/Connect calls, for clusters that run Strimzi. Pure.

With ``DATAOPS_STREAMS_BACKEND=strimzi`` a pipeline's managed topics become ``KafkaTopic`` objects
and its connectors ``KafkaConnector`` objects, owned by the pipeline (garbage collection deletes
them, and Strimzi then deletes the topic or connector). Secret values are never copied: connector
configs reference them through Strimzi's Kubernetes secrets config provider
(``${secrets:<namespace>/<secret>:<key>}``), which the KafkaConnect cluster must enable.
"""

from __future__ import annotations

from typing import Any

from dataops.api.v1alpha1.datapipeline import ConnectorSource, ConnectorStatus, TaskStatus, TopicStatus
from dataops.plan.children import Owner, standard_labels
from dataops.plan.topics import DesiredTopic

STRIMZI_API = "kafka.strimzi.io/v1beta2"
CLUSTER_LABEL = "strimzi.io/cluster"


def _name(value: str) -> str:
    """A Kubernetes name for a topic or connector name (dots and underscores are not all allowed)."""
    return value.lower().replace("_", "-").replace(".", "-")[:253].strip("-")


def build_kafka_topic(owner: Owner, topic: DesiredTopic, cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaTopic",
        "metadata": {
            "name": _name(f"{owner.name}-{topic.name}"),
            "namespace": owner.namespace,
            "labels": {**standard_labels(owner.name, "topic"), CLUSTER_LABEL: cluster},
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "topicName": topic.name,
            "partitions": topic.partitions,
            "replicas": topic.replication_factor,
            "config": dict(topic.config),
        },
    }


def strimzi_config(namespace: str, source: ConnectorSource) -> dict[str, str]:
    config = dict(source.config)
    for item in source.config_from_secrets:
        ref = item.secret_key_ref
        config[item.config_key] = f"${{secrets:{namespace}/{ref.name}:{ref.key}}}"
    return config


def build_kafka_connector(
    owner: Owner, connector: str, source_name: str, source: ConnectorSource, cluster: str
) -> dict[str, Any]:
    return {
        "apiVersion": STRIMZI_API,
        "kind": "KafkaConnector",
        "metadata": {
            "name": _name(connector),
            "namespace": owner.namespace,
            "labels": {
                **standard_labels(owner.name, "connector"),
                CLUSTER_LABEL: cluster,
                "dataops.dev/source": source_name,
            },
            "ownerReferences": [owner.reference()],
        },
        "spec": {
            "class": source.connector_class,
            "tasksMax": source.tasks_max,
            "state": "paused" if source.paused else "running",
            "autoRestart": {"enabled": True, "maxRestarts": source.restart.max_restarts},
            "config": strimzi_config(owner.namespace, source),
        },
    }


def _ready(obj: dict[str, Any]) -> tuple[bool, str]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True", str(cond.get("message") or cond.get("reason") or "")
    return False, "waiting for Strimzi"


def topic_status(obj: dict[str, Any] | None, topic: DesiredTopic) -> TopicStatus:
    if obj is None:
        return TopicStatus(name=topic.name, ready=False, owned=True, message="KafkaTopic not created yet")
    ready, message = _ready(obj)
    return TopicStatus(
        name=topic.name, partitions=topic.partitions, ready=ready, owned=True, message=message[:1024]
    )


def connector_status(obj: dict[str, Any] | None, name: str, source_name: str) -> ConnectorStatus:
    if obj is None:
        return ConnectorStatus(name=name, source=source_name, state="CREATING")
    status = obj.get("status") or {}
    connector = status.get("connectorStatus") or {}
    tasks = [
        TaskStatus(
            id=int(t.get("id", 0)),
            state=str(t.get("state", "UNKNOWN")),
            trace=(t.get("trace") or "")[:300] or None,
        )
        for t in connector.get("tasks") or []
    ]
    auto = status.get("autoRestart") or {}
    _, message = _ready(obj)
    return ConnectorStatus(
        name=name,
        source=source_name,
        state=str((connector.get("connector") or {}).get("state", "UNKNOWN")),
        tasks=tasks,
        restarts=int(auto.get("count", 0)),
        message=message[:1024],
    )
