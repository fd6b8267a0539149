"""Offsets deleted from the topic before the job read them, counted (``onDataLoss: Continue``).

With ``Continue`` Spark reads on from the earliest offset still there (``failOnDataLoss=false``) and
says nothing about what it skipped. Each micro-batch, the offsets the job has not read but the topic
no longer holds are counted: for each partition, from the next offset the job was to read up to the
partition's low watermark (or the first offset of the batch, whichever is lower). Offsets the topic
still holds but the batch lacks (transaction markers, compaction, tombstones) are not data loss and
are not counted. A job that starts from an existing checkpoint compares its first batch with the
offsets the checkpoint's last committed batch ended at, so what was deleted while the job was
stopped is counted too.
"""

from __future__ import annotations

import json
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from dataops.runtime.hadoop import hadoop_fs


def low_watermarks(bootstrap: str, topic: str, partitions: list[int]) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "dataops-data-loss-check"})
    try:
        found = {}
        for partition in partitions:
            low, _high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=10, cached=False
            )
            found[partition] = low
        return found
    finally:
        consumer.close()


def batch_ranges(parsed: DataFrame) -> dict[int, tuple[int, int]]:
    """Per partition, the first and last offset of the batch's records."""
    rows: list[Any] = (
        parsed.groupBy("partition").agg(F.min("offset").alias("lo"), F.max("offset").alias("hi")).collect()
    )
    return {int(r["partition"]): (int(r["lo"]), int(r["hi"])) for r in rows}


def lost_offsets(
    next_offsets: dict[int, int], ranges: dict[int, tuple[int, int]], lows: dict[int, int]
) -> tuple[int, dict[int, int]]:
    """(offsets lost before this batch, the next offsets after it). Pure."""
    lost = 0
    after = dict(next_offsets)
    for partition, expected in next_offsets.items():
        first = ranges.get(partition, (None, None))[0]
        gone_below = lows.get(partition, expected)
        if first is not None:
            gone_below = min(gone_below, first)
        if gone_below > expected:
            lost += gone_below - expected
            after[partition] = gone_below
    for partition, (_lo, hi) in ranges.items():
        after[partition] = max(after.get(partition, 0), hi + 1)
    return lost, after


def _lines(spark: SparkSession, location: str) -> list[str]:
    fs, path = hadoop_fs(spark, location)
    stream = fs.open(path)
    try:
        jvm: Any = spark._jvm
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        return [str(line) for line in iter(reader.readLine, None)]
    finally:
        stream.close()


def checkpoint_offsets(spark: SparkSession, checkpoint: str, topic: str) -> dict[int, int]:
    """Where the checkpoint resumes ``topic``: the end offsets of its last committed batch (Spark's
    offset log, ``offsets/<batch>``: a version line, the batch metadata, one line per source)."""
    root = checkpoint.rstrip("/")
    fs, commits = hadoop_fs(spark, f"{root}/commits")
    if not fs.exists(commits):
        return {}
    done = [
        int(str(s.getPath().getName()))
        for s in fs.listStatus(commits)
        if str(s.getPath().getName()).isdigit()
    ]
    if not done:
        return {}
    for line in _lines(spark, f"{root}/offsets/{max(done)}")[2:]:
        try:
            offsets = json.loads(line)
        except ValueError:
            continue
        if isinstance(offsets, dict) and isinstance(offsets.get(topic), dict):
            return {int(p): int(o) for p, o in offsets[topic].items()}
    return {}


class LostOffsetCounter:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.next: dict[int, int] = {}
        self.lost = 0

    def resume_from(self, spark: SparkSession, checkpoint: str) -> None:
        self.next = checkpoint_offsets(spark, checkpoint, self.topic)

    def observe(self, parsed: DataFrame) -> int:
        """Count the offsets lost before this batch; returns how many."""
        ranges = batch_ranges(parsed)
        lows = low_watermarks(self.bootstrap, self.topic, sorted(self.next)) if self.next else {}
        lost, self.next = lost_offsets(self.next, ranges, lows)
        self.lost += lost
        return lost
