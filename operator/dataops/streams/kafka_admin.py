"""Topic management with confluent-kafka's AdminClient (one client per bootstrap, reused)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import AlterConfigOpType, ConfigEntry, ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewPartitions, NewTopic

from dataops.plan.topics import DesiredTopic, ExistingTopic


class KafkaAdminError(Exception):
    """The broker could not be reached or refused a change (message is safe to show)."""


MAX_CLIENTS = 16
"""Admin clients kept for reuse (one per bootstrap address, least recently used dropped first): the
addresses come from user specs, so the cache must not grow with them."""
_clients: OrderedDict[str, AdminClient] = OrderedDict()
_guard = threading.Lock()


def _client_for(bootstrap: str) -> AdminClient:
    with _guard:
        client = _clients.get(bootstrap)
        if client is None:
            client = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})
            _clients[bootstrap] = client
        _clients.move_to_end(bootstrap)
        while len(_clients) > MAX_CLIENTS:
            _clients.popitem(last=False)
        return client


def _error(exc: BaseException) -> KafkaAdminError:
    if isinstance(exc, KafkaException) and exc.args:
        err = exc.args[0]
        text = err.str() if hasattr(err, "str") else str(err)
        return KafkaAdminError(text)
    return KafkaAdminError(str(exc) or type(exc).__name__)


class KafkaAdmin:
    def __init__(self, bootstrap: str, *, timeout: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.timeout = timeout
        self.client = _client_for(bootstrap)

    def _wait(self, futures: dict[Any, Any]) -> None:
        for future in futures.values():
            try:
                future.result(timeout=self.timeout)
            except Exception as exc:  # KafkaException, or a timeout
                raise _error(exc) from exc

    def describe(self, names: list[str]) -> dict[str, ExistingTopic]:
        """The named topics that exist, with their partition counts and explicitly set configs."""
        try:
            metadata = self.client.list_topics(timeout=self.timeout)
        except KafkaException as exc:
            raise _error(exc) from exc
        found = {n: len(metadata.topics[n].partitions) for n in names if n in metadata.topics}
        if not found:
            return {}
        resources = [ConfigResource(ResourceType.TOPIC, n) for n in found]
        configs: dict[str, dict[str, str]] = {}
        for resource, future in self.client.describe_configs(resources).items():
            try:
                entries = future.result(timeout=self.timeout)
            except Exception as exc:
                raise _error(exc) from exc
            configs[resource.name] = {
                k: str(e.value) for k, e in entries.items() if not e.is_default and e.value is not None
            }
        return {n: ExistingTopic(n, p, configs.get(n, {})) for n, p in found.items()}

    def create(self, topics: list[DesiredTopic]) -> None:
        if topics:
            new = [
                NewTopic(t.name, t.partitions, t.replication_factor, config=dict(t.config)) for t in topics
            ]
            self._wait(self.client.create_topics(new, request_timeout=self.timeout))

    def add_partitions(self, counts: dict[str, int]) -> None:
        if counts:
            self._wait(self.client.create_partitions([NewPartitions(n, c) for n, c in counts.items()]))

    def alter_config(self, changes: dict[str, dict[str, str]]) -> None:
        if not changes:
            return
        resources = [
            ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in config.items()
                ],
            )
            for name, config in changes.items()
        ]
        self._wait(self.client.incremental_alter_configs(resources))

    def delete(self, names: list[str]) -> None:
        if not names:
            return
        futures = self.client.delete_topics(names, operation_timeout=self.timeout)
        for future in futures.values():
            try:
                future.result(timeout=self.timeout)
            except KafkaException as exc:
                if "UNKNOWN_TOPIC_OR_PART" not in str(exc):  # already gone
                    raise _error(exc) from exc
