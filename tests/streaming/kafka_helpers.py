"""Small Kafka helpers for the streaming tests (real broker)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic


def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=30)


def produce(bootstrap: str, topic: str, values: list[str | None], keys: list[str] | None = None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    for i, value in enumerate(values):
        key = keys[i] if keys else str(i)
        producer.produce(topic, key=key.encode(), value=None if value is None else value.encode())
        if i % 10000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def produce_json(bootstrap: str, topic: str, rows: list[dict[str, Any]]) -> None:
    produce(
        bootstrap, topic, [json.dumps(r) for r in rows], [str(r.get("id", i)) for i, r in enumerate(rows)]
    )


def consume_all(bootstrap: str, topic: str, *, expected: int, timeout: float = 60.0) -> list[Any]:
    """Messages of ``topic`` from the beginning until ``expected`` arrived (or the timeout)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                if message.error() is None:
                    messages.append(message)
    finally:
        consumer.close()
    return messages
