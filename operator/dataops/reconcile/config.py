"""How run and validation pods are launched (from the operator's settings)."""

from __future__ import annotations

from dataclasses import dataclass

from dataops.plan.spark_driver import DEFAULT_RUNTIME_IMAGE
from dataops.plan.validation import DEFAULT_VALIDATOR_IMAGE
from dataops.policy.deputy import Allowlists


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
    allowed_images: tuple[str, ...] = ()
    allowed_service_accounts: tuple[str, ...] = ()
    allowed_connect_urls: tuple[str, ...] = ()
    allowed_kafka_bootstrap: tuple[str, ...] = ()
    """Operator-level allowlists (policy/deputy.py); the defaults above are always allowed."""
    policy_list_max_age: float = 0.0
    """Reuse a LIST of DataPolicies this many seconds (the operator forgets it on policy events)."""

    def allowlists(self) -> Allowlists:
        return Allowlists(
            images=self.allowed_images,
            service_accounts=self.allowed_service_accounts,
            connect_urls=self.allowed_connect_urls,
            kafka_bootstrap=self.allowed_kafka_bootstrap,
            default_images=(self.image, self.validator_image),
            default_connect_url=self.connect_url,
            default_kafka_bootstrap=self.kafka_bootstrap,
        )


DEFAULT_RUN_CONFIG = RunConfig()
