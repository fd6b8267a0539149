"""The operator's settings, all from the environment (one documented place)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from dataops.plan.pods import api_server_address


@dataclass(frozen=True)
class Settings:
    """Environment variables, each ``DATAOPS_<FIELD NAME IN UPPER CASE>``."""

    kubeconfig: str | None = None
    """Path of a kubeconfig; unset means in-cluster, then ~/.kube/config."""
    namespace: str | None = None
    """Watch only these namespaces: comma-separated names or globs (``team-*``); unset watches all."""
    resync_seconds: float = 60.0
    """Every object is reconciled at least this often (level-based safety net and retry)."""
    metrics_port: int = 8080
    """Port of the Prometheus /metrics endpoint (0 disables it)."""
    health_port: int = 8081
    """Port of /healthz (liveness: served from process start, also by a standby waiting for the lease)
    and /readyz (readiness: 200 only on the replica that reconciles, 503 on a standby); 0 disables both."""
    workers: int = 8
    """Threads that run reconciles."""
    leader_election: bool = False
    """Hold a coordination.k8s.io Lease while active; standby replicas wait for it."""
    leader_election_namespace: str = "default"
    lease_name: str = "dataops-operator"
    lease_duration_seconds: int = 15
    pod_name: str = ""
    """This replica's identity in the lease (the pod name in a cluster)."""
    runtime_image: str = "ghcr.io/dataops-operator/spark-runtime:0.1.0"
    """Image of driver and executor pods when a pipeline names none (runtime-images/spark)."""
    validator_image: str = "ghcr.io/dataops-operator/validator:0.1.0"
    """Image of standalone validation pods when a suite names none (runtime-images/validator)."""
    kafka_bootstrap: str | None = None
    """Kafka bootstrap servers (host:port,...) for sources that name none."""
    connect_url: str | None = None
    """Kafka Connect REST URL for connector sources that name none."""
    streams_backend: str = "direct"
    """How topics and connectors are managed: direct (AdminClient, Connect REST) or strimzi
    (KafkaTopic/KafkaConnector objects for a Strimzi-managed Kafka)."""
    strimzi_kafka_cluster: str = "kafka"
    """strimzi.io/cluster label of KafkaTopics (the Kafka resource's name)."""
    strimzi_connect_cluster: str = "connect"
    """strimzi.io/cluster label of KafkaConnectors (the KafkaConnect resource's name)."""
    lineage_transport: str = "console"
    """Where run pods (and the operator, for connectors) send OpenLineage events: console, file:PATH,
    http(s)://URL (Marquez or ``dataops lineage serve``) or none."""
    api_server_url: str | None = None
    """How pods reach the API server (https://host:port): the Spark master of drivers
    (``k8s://<url>``, ``spark.kubernetes.driver.master``) and KUBERNETES_SERVICE_HOST/PORT of driver
    and validation pods, for clusters where pods cannot use the ``kubernetes`` Service (no
    kube-proxy). Unset: the in-cluster default https://kubernetes.default.svc:443."""

    allowed_images: str | None = None
    """Comma-separated globs of images resources may name (spec.spark.image, validator.image) besides
    runtime_image and validator_image; ``*`` stops at ``/``, ``**`` crosses it. Unset: only those two."""
    allowed_service_accounts: str | None = None
    """Globs of ServiceAccounts a suite's validator may run as: ``name`` or ``namespace/name``. Unset:
    none (validation pods run as their namespace's default ServiceAccount)."""
    allowed_connect_urls: str | None = None
    """Globs of Kafka Connect URLs connector sources may name (the operator sends them the Secret
    values of configFromSecrets). Unset: only connect_url."""
    allowed_kafka_bootstrap: str | None = None
    """Globs of host:port Kafka bootstrap servers sources may name. Unset: only kafka_bootstrap's."""

    def __post_init__(self) -> None:
        if self.api_server_url:
            api_server_address(self.api_server_url)  # fail at startup, not at the first launch

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = source.get(f"DATAOPS_{f.name.upper()}")
            if raw is None:
                continue
            kind = str(f.type)
            if "bool" in kind:
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif "float" in kind:
                values[f.name] = float(raw)
            elif "int" in kind:
                values[f.name] = int(raw)
            else:
                values[f.name] = raw or None if "None" in kind else raw
        return cls(**values)  # type: ignore[arg-type]


def namespace_patterns(value: str | None) -> list[str]:
    return [p.strip() for p in (value or "").split(",") if p.strip()]
