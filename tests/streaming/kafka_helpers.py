"""Small Kafka helpers for the streaming tests (real broker)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
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


def consume_to_end(bootstrap: str, topic: str, *, timeout: float = 60.0) -> list[Any]:
    """Every message ``topic`` holds now: each partition read from its start up to the high
    watermark the broker reports when the call begins (no waiting for records that may never come)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    messages: list[Any] = []
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        pending = {p: high for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: partitions {sorted(pending)} not read to their end")
            for message in consumer.consume(num_messages=1000, timeout=0.5):
                if message.error() is not None:
                    continue
                messages.append(message)
                if message.offset() + 1 >= pending.get(message.partition(), 0):
                    pending.pop(message.partition(), None)
    finally:
        consumer.close()
    return messages
