"""Dead-letter writes that a replayed micro-batch does not repeat.

Structured Streaming replays the last micro-batch whose commit it did not record (the driver died
between the sinks' commit and the checkpoint's). The sinks are idempotent on replay
(:mod:`dataops.runtime.stream_sinks`), but Spark's Kafka writer is not: the rejected records would
reach the dead-letter topic twice. So each batch's dead-letter write is bracketed by two markers in
the checkpoint folder:

- ``<n>.started`` (written first) holds the dead-letter topic's end offsets before the write;
- ``<n>.done`` (written after the write) says the batch's records are all there.

A batch with ``done`` writes nothing again. A batch with only ``started`` may have written part of
its records: the topic is read from the recorded offsets, and the records whose source
(topic, partition, offset) is already there are left out, so each rejected record lands exactly once.
"""

from __future__ import annotations

import json
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataops.runtime.failpoints import failpoint
from dataops.runtime.hadoop import hadoop_fs

MARKER_FOLDER = "dataops-dead-letters"
_SOURCE_HEADERS = ("dataops.source.topic", "dataops.source.partition", "dataops.source.offset")
KEEP_MARKERS = 4  # only the last batch can be replayed; a few more help reading what happened


def _text(value: str | bytes | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


class DeadLetterLedger:
    def __init__(self, spark: SparkSession, checkpoint: str, bootstrap: str, topic: str) -> None:
        self.spark = spark
        self.folder = f"{checkpoint.rstrip('/')}/{MARKER_FOLDER}"
        self.bootstrap = bootstrap
        self.topic = topic

    # -- markers in the checkpoint folder (any Hadoop file system) -------------------------------

    def _marker(self, batch_id: int, kind: str) -> str:
        return f"{self.folder}/{batch_id}.{kind}"

    def _exists(self, location: str) -> bool:
        fs, path = hadoop_fs(self.spark, location)
        return bool(fs.exists(path))

    def _read(self, location: str) -> str:
        fs, path = hadoop_fs(self.spark, location)
        stream = fs.open(path)
        try:
            jvm: Any = self.spark._jvm
            reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
            return "".join(iter(reader.readLine, None))
        finally:
            stream.close()

    def _write(self, location: str, text: str) -> None:
        fs, path = hadoop_fs(self.spark, location)
        out = fs.create(path, True)
        try:
            out.write(bytearray(text.encode()))
        finally:
            out.close()

    def _forget_before(self, batch_id: int) -> None:
        fs, folder = hadoop_fs(self.spark, self.folder)
        if not fs.exists(folder):
            return
        for status in fs.listStatus(folder):
            name = str(status.getPath().getName())
            number = name.split(".", 1)[0]
            if number.isdigit() and int(number) < batch_id - KEEP_MARKERS:
                fs.delete(status.getPath(), False)

    # -- the dead-letter topic ---------------------------------------------------------------------

    def _end_offsets(self) -> dict[int, int]:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "dataops-dead-letters"})
        try:
            topics = consumer.list_topics(self.topic, timeout=10).topics
            meta = topics.get(self.topic)
            if meta is None or meta.error is not None:
                return {}
            ends = {}
            for partition in meta.partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=10)
                ends[partition] = high
            return ends
        finally:
            consumer.close()

    def _already_written(self, since: dict[int, int]) -> set[tuple[str, int, int]]:
        """The source (topic, partition, offset) of the dead-letter records written after ``since``."""
        from confluent_kafka import Consumer, TopicPartition

        ends = self._end_offsets()
        pending = {p: end for p, end in ends.items() if end > since.get(p, 0)}
        found: set[tuple[str, int, int]] = set()
        if not pending:
            return found
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "dataops-dead-letters",
                "enable.auto.commit": False,
            }
        )
        try:
            consumer.assign([TopicPartition(self.topic, p, since.get(p, 0)) for p in pending])
            while pending:
                message = consumer.poll(10)
                if message is None:
                    raise RuntimeError(
                        f"dead-letter topic {self.topic}: no records where the broker reports some"
                    )
                if message.error() is not None:
                    continue
                pairs: list[Any] = list(message.headers() or [])
                headers = {str(k): _text(v) for k, v in pairs}
                if all(h in headers for h in _SOURCE_HEADERS):
                    found.add(
                        (
                            headers["dataops.source.topic"],
                            int(headers["dataops.source.partition"]),
                            int(headers["dataops.source.offset"]),
                        )
                    )
                partition, offset = message.partition(), message.offset()
                if partition in pending and offset is not None and offset + 1 >= pending[partition]:
                    del pending[partition]
        finally:
            consumer.close()
        return found

    # -- one batch ---------------------------------------------------------------------------------

    def write(self, batch_id: int, to_kafka: DataFrame) -> None:
        """Send ``to_kafka`` (the rejected records as Kafka records, with their source position in
        ``__topic``, ``__partition``, ``__offset``) to the dead-letter topic once per batch."""
        if self._exists(self._marker(batch_id, "done")):
            return
        started = self._marker(batch_id, "started")
        if self._exists(started):
            written = self._already_written({int(k): v for k, v in json.loads(self._read(started)).items()})
            if written:
                seen = self.spark.createDataFrame(
                    sorted(written), "s_topic string, s_partition int, s_offset long"
                )
                to_kafka = to_kafka.join(
                    F.broadcast(seen),
                    (to_kafka["__topic"] == seen["s_topic"])
                    & (to_kafka["__partition"] == seen["s_partition"])
                    & (to_kafka["__offset"] == seen["s_offset"]),
                    "left_anti",
                )
        else:
            self._write(started, json.dumps(self._end_offsets()))
        (
            to_kafka.drop("__topic", "__partition", "__offset")
            .write.format("kafka")
            .option("kafka.bootstrap.servers", self.bootstrap)
            .option("topic", self.topic)
            .save()
        )
        failpoint("after-dead-letters", batch_id)
        self._write(self._marker(batch_id, "done"), "")
        self._forget_before(batch_id)
