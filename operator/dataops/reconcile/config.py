"""How run and validation pods are launched (from the operator's settings)."""

from __future__ import annotations

from dataclasses import dataclass

from dataops.plan.spark_driver import DEFAULT_RUNTIME_IMAGE
from dataops.plan.validation import DEFAULT_VALIDATOR_IMAGE


@dataclass(frozen=True)
class RunConfig:
    image: str = DEFAULT_RUNTIME_IMAGE
    validator_image: str = DEFAULT_VALIDATOR_IMAGE
    lineage_transport: str = "console"
    api_server_url: str | None = None
    """How run and validation pods reach the API server; None: https://kubernetes.default.svc:443."""
    kafka_bootstrap: str | None = None
    """Kafka of pipelines whose sources name no bootstrapServers."""
    connect_url: str | None = None
    """Kafka Connect REST URL of connector sources that name no connectUrl."""
    streams_backend: str = "direct"
    """direct (AdminClient and Connect REST) or strimzi (KafkaTopic/KafkaConnector objects)."""
    strimzi_kafka_cluster: str = "kafka"
    strimzi_connect_cluster: str = "connect"
    policy_list_max_age: float = 0.0
    """Reuse a LIST of DataPolicies this many seconds (the operator forgets it on policy events)."""


DEFAULT_RUN_CONFIG = RunConfig()
