"""Streaming sources of a pipeline: Kafka topics (AdminClient) and Kafka Connect connectors (REST).

Runs inside the pipeline's reconcile when the spec declares kafka or connector sources. Failures to
reach Kafka or Connect are reported (SourcesReady=False, retried), never raised to the caller.
On deletion, connectors and the topics this pipeline created are removed before the finalizer goes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dataops.api.v1alpha1.datapipeline import (
    ConnectorSource,
    ConnectorStatus,
    DataPipelineSpec,
    DataPipelineStatus,
    TopicStatus,
)
from dataops.kube.apply import ensure
from dataops.kube.client import DATA_PIPELINE, KAFKA_CONNECTOR, KAFKA_TOPIC, SECRET, KubeClient, KubeError
from dataops.lineage.connectors import connector_emitter, emit_connector_run
from dataops.plan import strimzi
from dataops.plan.children import Owner
from dataops.plan.connectors import (
    RESTART_ANNOTATION,
    connector_name,
    declared_connectors,
    desired_config,
    plan_connector,
)
from dataops.plan.strimzi import build_kafka_connector, build_kafka_topic
from dataops.plan.topics import desired_topics, owned_topics, plan_topics
from dataops.policy.deputy import bootstrap_problem, connect_url_problem
from dataops.reconcile.config import RunConfig
from dataops.status.events import EventSpec
from dataops.streams.connect import ConnectClient, ConnectError
from dataops.streams.kafka_admin import KafkaAdmin, KafkaAdminError

FINALIZER = "dataops.dev/streaming-cleanup"
STRIMZI = "strimzi"


@dataclass
class SourcesReport:
    topics: list[TopicStatus] = field(default_factory=list)
    connectors: list[ConnectorStatus] = field(default_factory=list)
    restart_request: str | None = None
    errors: list[str] = field(default_factory=list)
    blocking: bool = False  # topics are missing or Kafka is unreachable: the streaming job cannot run
    events: list[EventSpec] = field(default_factory=list)
    wake_at: list[datetime] = field(default_factory=list)


def has_streaming_sources(spec: DataPipelineSpec) -> bool:
    return any(s.kafka is not None or s.connector is not None for s in spec.sources)


def needs_finalizer(spec: DataPipelineSpec, config: RunConfig) -> bool:
    """Direct management cleans up Kafka and Connect itself; Strimzi objects go by garbage collection."""
    return config.streams_backend != STRIMZI and any(
        s.connector is not None or (s.kafka is not None and s.kafka.managed) for s in spec.sources
    )


def _connect_url(source: ConnectorSource, config: RunConfig) -> str | None:
    return source.connect_url or config.connect_url


def _bootstrap(spec: DataPipelineSpec, config: RunConfig) -> str | None:
    declared = next(
        (s.kafka.bootstrap_servers for s in spec.sources if s.kafka and s.kafka.bootstrap_servers), None
    )
    return declared or config.kafka_bootstrap


def _secret_values(client: KubeClient, namespace: str, refs: list[Any]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in refs:
        ref = item.secret_key_ref
        try:
            secret = client.get(SECRET, namespace, ref.name)
        except KubeError as exc:  # e.g. 403: the chart grants Secrets only where asked (secretNamespaces)
            raise ConnectError(f"Secret {ref.name} cannot be read by the operator: {exc}") from exc
        data = (secret or {}).get("data") or {}
        if ref.key not in data:
            raise ConnectError(f"Secret {ref.name} has no key {ref.key} (for config {item.config_key})")
        values[item.config_key] = base64.b64decode(data[ref.key]).decode()
    return values


def _reconcile_topics(
    spec: DataPipelineSpec, previous: list[TopicStatus], config: RunConfig, report: SourcesReport
) -> None:
    desired = desired_topics(spec)
    if not desired:
        return
    bootstrap = _bootstrap(spec, config)
    if bootstrap is None:
        report.errors.append(
            "no Kafka bootstrap servers: set spec.sources[].kafka.bootstrapServers "
            "or the operator's DATAOPS_KAFKA_BOOTSTRAP"
        )
        report.blocking = True
        report.topics = previous
        return
    admin = KafkaAdmin(bootstrap)
    try:
        plan = plan_topics(desired, admin.describe([t.name for t in desired]), previous)
        admin.create(plan.create)
        admin.add_partitions(plan.add_partitions)
        admin.alter_config(plan.alter_config)
    except KafkaAdminError as exc:
        report.errors.append(f"Kafka at {bootstrap}: {exc}")
        report.blocking = True
        report.topics = previous
        return
    report.topics = plan.statuses
    for topic in plan.create:
        report.events.append(
            EventSpec(
                "Normal", "TopicCreated", f"topic {topic.name} created with {topic.partitions} partition(s)"
            )
        )
    for name, count in plan.add_partitions.items():
        report.events.append(EventSpec("Normal", "TopicUpdated", f"topic {name} now has {count} partitions"))
    for status in plan.statuses:
        if not status.ready:
            report.errors.append(f"topic {status.name}: {status.message}")
            # A topic that exists with more partitions than declared still serves the job.
            report.blocking = report.blocking or status.partitions is None


def _connector_lineage(
    namespace: str,
    name: str,
    uid: str,
    cname: str,
    source: ConnectorSource,
    desired: dict[str, str],
    spec: DataPipelineSpec,
    config: RunConfig,
) -> None:
    """The connector as a job of the lineage graph whose outputs are its topics (see
    :mod:`dataops.lineage.connectors`); sent when its config is put, never raises."""
    emitter = connector_emitter(
        config.lineage_transport,
        namespace=namespace,
        pipeline=name,
        uid=uid,
        connector=cname,
        connector_class=source.connector_class,
    )
    emit_connector_run(emitter, config=desired, topics=source.topics, bootstrap=_bootstrap(spec, config))


def _reconcile_connectors(
    client: KubeClient,
    namespace: str,
    name: str,
    body_uid: str,
    spec: DataPipelineSpec,
    previous: DataPipelineStatus | None,
    restart: bool,
    config: RunConfig,
    now: datetime,
    report: SourcesReport,
) -> None:
    before = {c.source: c for c in (previous.connectors if previous else [])}
    for source_name, source in declared_connectors(spec):
        cname = connector_name(namespace, name, source_name)
        url = _connect_url(source, config)
        if url is None:
            report.errors.append(
                f"connector {source_name}: no Kafka Connect URL (spec connectUrl or DATAOPS_CONNECT_URL)"
            )
            continue
        connect = ConnectClient(url)
        try:
            desired = desired_config(source, _secret_values(client, namespace, source.config_from_secrets))
            actions = plan_connector(
                name=cname,
                source_name=source_name,
                source=source,
                desired=desired,
                observed=connect.observe(cname),
                previous=before.get(source_name),
                restart_requested=restart,
                now=now,
            )
            if actions.put_config:
                connect.put_config(cname, desired)
                _connector_lineage(namespace, name, body_uid, cname, source, desired, spec, config)
            if actions.pause:
                connect.pause(cname)
            if actions.resume:
                connect.resume(cname)
            if actions.restart:
                connect.restart(cname)
        except ConnectError as exc:
            report.errors.append(f"connector {source_name}: {exc}")
            old = before.get(source_name)
            if old is not None:
                report.connectors.append(old.model_copy(update={"message": str(exc)[:1024]}))
            continue
        assert actions.status is not None
        report.connectors.append(actions.status)
        report.events += actions.events
        report.wake_at += actions.wake_at
        if actions.status.message:
            report.errors.append(f"connector {source_name}: {actions.status.message}")


def _reconcile_strimzi(
    client: KubeClient, body: dict[str, Any], spec: DataPipelineSpec, config: RunConfig, report: SourcesReport
) -> None:
    """KafkaTopic and KafkaConnector objects owned by the pipeline; Strimzi does the rest."""
    meta = body["metadata"]
    owner = Owner(kind="DataPipeline", name=meta["name"], namespace=meta["namespace"], uid=meta["uid"])
    for topic in desired_topics(spec):
        if not topic.managed:
            continue
        manifest = build_kafka_topic(owner, topic, config.strimzi_kafka_cluster)
        ensure(client, manifest)
        live = client.get(KAFKA_TOPIC, owner.namespace, manifest["metadata"]["name"])
        report.topics.append(strimzi.topic_status(live, topic))
    for source_name, source in declared_connectors(spec):
        cname = connector_name(owner.namespace, owner.name, source_name)
        manifest = build_kafka_connector(owner, cname, source_name, source, config.strimzi_connect_cluster)
        ensure(client, manifest)
        live = client.get(KAFKA_CONNECTOR, owner.namespace, manifest["metadata"]["name"])
        report.connectors.append(strimzi.connector_status(live, cname, source_name))
    report.errors += [f"topic {t.name}: {t.message}" for t in report.topics if not t.ready]
    report.errors += [
        f"connector {c.source}: {c.state} {c.message}".strip()
        for c in report.connectors
        if c.state not in ("RUNNING", "PAUSED")
    ]


def reconcile_sources(
    client: KubeClient,
    body: dict[str, Any],
    spec: DataPipelineSpec,
    previous: DataPipelineStatus | None,
    *,
    config: RunConfig,
    now: datetime,
) -> SourcesReport:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    report = SourcesReport(restart_request=previous.last_connector_restart_request if previous else None)
    request = (meta.get("annotations") or {}).get(RESTART_ANNOTATION)
    restart = bool(request) and request != report.restart_request
    if restart:
        report.restart_request = request
    if config.streams_backend == STRIMZI:
        _reconcile_strimzi(client, body, spec, config, report)
        return report
    _reconcile_topics(spec, previous.topics if previous else [], config, report)
    _reconcile_connectors(
        client, namespace, name, str(meta.get("uid") or ""), spec, previous, restart, config, now, report
    )
    return report


def _set_finalizers(client: KubeClient, meta: dict[str, Any], finalizers: list[str]) -> None:
    """Replace the list (a merge patch replaces lists), guarded by the resourceVersion we read."""
    patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta["resourceVersion"]}}
    meta.update(client.patch(DATA_PIPELINE, meta["namespace"], meta["name"], patch)["metadata"])


def ensure_finalizer(client: KubeClient, body: dict[str, Any]) -> None:
    finalizers = list(body["metadata"].get("finalizers") or [])
    if FINALIZER not in finalizers:
        _set_finalizers(client, body["metadata"], [*finalizers, FINALIZER])


def cleanup(
    client: KubeClient,
    body: dict[str, Any],
    spec: DataPipelineSpec | None,
    status: DataPipelineStatus | None,
    config: RunConfig,
) -> list[EventSpec]:
    """Delete the pipeline's connectors and owned topics, then drop the finalizer. Raises on failure
    (the reconcile is retried and the object stays until cleanup succeeds)."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    events: list[EventSpec] = []
    allow = config.allowlists()  # never contact an address the operator would not have used
    if spec is not None:
        for source_name, source in declared_connectors(spec):
            url = _connect_url(source, config)
            cname = connector_name(namespace, name, source_name)
            if url and connect_url_problem(url, allow) is None and ConnectClient(url).delete(cname):
                events.append(EventSpec("Normal", "ConnectorDeleted", f"connector {cname} deleted"))
        topics = owned_topics(status.topics if status else [])
        bootstrap = _bootstrap(spec, config)
        if topics and bootstrap and bootstrap_problem(bootstrap, allow) is None:
            KafkaAdmin(bootstrap).delete(topics)
            events.append(EventSpec("Normal", "TopicsDeleted", f"topics deleted: {', '.join(topics)}"))
    _set_finalizers(client, meta, [f for f in meta.get("finalizers") or [] if f != FINALIZER])
    return events
