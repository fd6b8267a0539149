"""Ingestion throughput of a Streaming pipeline (Kafka -> parse against the schema -> Delta) against a
plain confluent-kafka consumer reading the same topic, on the same broker, in the same run.

    python -m benchmarks.streaming_throughput [--records 1000000] [--partitions 4] [--repeats 3]

The topic is filled once. Each round reads all of it with (a) a confluent-kafka Consumer that only
counts the messages, (b) the same consumer also decoding each JSON value (what "ingesting" costs in
plain Python), and (c) the pipeline's StreamingRun (availableNow: one run that drains the topic,
parses, dead-letters nothing here and commits to a fresh Delta table). The medians are printed with
records per second and the ratio c/a. Target: c/a >= 0.8 on one million records.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from benchmarks.table import print_table
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.devcluster.services import KafkaBroker
from dataops.plan.runplan import build_run_plan
from dataops.runtime.session import local_session
from dataops.runtime.streaming import StreamingRun, StreamingSettings

TOPIC = "bench-orders"
SCHEMA = [
    {"name": "id", "type": "long", "nullable": False},
    {"name": "customer", "type": "string"},
    {"name": "status", "type": "string"},
    {"name": "amount", "type": "double"},
    {"name": "quantity", "type": "int"},
]


def fill(bootstrap: str, records: int, partitions: int) -> float:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, partitions, 1)]).values():
        future.result(30)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 50, "batch.size": 1 << 20, "compression.type": "lz4"}
    )
    started = time.perf_counter()
    statuses = ("new", "paid", "shipped")
    for i in range(records):
        value = json.dumps(
            {
                "id": i,
                "customer": f"c{i % 5000}",
                "status": statuses[i % 3],
                "amount": i % 1000 / 3,
                "quantity": i % 9,
            }
        )
        while True:
            try:
                producer.produce(TOPIC, value=value.encode(), key=str(i).encode())
                break
            except BufferError:
                producer.poll(0.05)
        if i % 20000 == 0:
            producer.poll(0)
    producer.flush(120)
    return time.perf_counter() - started


def raw_consume(bootstrap: str, records: int, *, decode: bool) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 64 << 20,
            "max.partition.fetch.bytes": 16 << 20,
        }
    )
    started = time.perf_counter()
    consumer.subscribe([TOPIC])
    seen = 0
    while seen < records:
        for message in consumer.consume(num_messages=10000, timeout=1.0):
            if message.error() is None:
                seen += 1
                if decode:
                    json.loads(message.value())
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def pipeline_consume(spark: object, bootstrap: str, records: int, workdir: Path) -> float:
    sink = workdir / f"lake-{uuid.uuid4().hex[:6]}"
    spec = DataPipelineSpec.model_validate(
        {
            "mode": "Streaming",
            "sources": [
                {"name": "orders", "kafka": {"topic": TOPIC, "bootstrapServers": bootstrap, "schema": SCHEMA}}
            ],
            "sinks": [{"name": "lake", "from": "orders", "format": "delta", "path": str(sink)}],
        }
    )
    plan = build_run_plan(name="bench", namespace="bench", spec=spec)
    run = StreamingRun(spark, plan, run_id="bench", settings=StreamingSettings(available_now=True))  # type: ignore[arg-type]
    started = time.perf_counter()
    summary = run.run()
    elapsed = time.perf_counter() - started
    if summary.outcome != "Succeeded" or run.counters.rows_parsed != records:
        raise SystemExit(
            f"pipeline run failed or incomplete: {summary.error} ({run.counters.rows_parsed} rows)"
        )
    shutil.rmtree(sink, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="dataops-bench-stream-"))
    broker = KafkaBroker(workdir / "kafka", heap="1g").start()
    spark = local_session(
        master="local[2]", app_name="bench-streaming", conf={"spark.sql.shuffle.partitions": "4"}
    )
    try:
        fill_seconds = fill(broker.bootstrap, args.records, args.partitions)
        # Warm-up: JIT, Spark's Kafka consumer pool and Delta classes; the topic pages are cached too.
        raw_consume(broker.bootstrap, args.records, decode=False)
        pipeline_consume(spark, broker.bootstrap, args.records, workdir)
        raw, decoded, pipeline = [], [], []
        for _ in range(args.repeats):
            raw.append(raw_consume(broker.bootstrap, args.records, decode=False))
            decoded.append(raw_consume(broker.bootstrap, args.records, decode=True))
            pipeline.append(pipeline_consume(spark, broker.bootstrap, args.records, workdir))
        a, b, c = (statistics.median(x) for x in (raw, decoded, pipeline))
        n = args.records
        print_table(
            [
                ("records", f"{n:,} ({args.partitions} partitions; produced in {fill_seconds:.1f} s)"),
                ("(a) confluent-kafka consumer, count only", f"{a:.2f} s  {n / a:,.0f} records/s"),
                ("(b) confluent-kafka consumer + json.loads", f"{b:.2f} s  {n / b:,.0f} records/s"),
                ("(c) dataops streaming pipeline -> Delta", f"{c:.2f} s  {n / c:,.0f} records/s"),
                ("c/a throughput ratio (target >= 0.8)", f"{a / c:.2f}"),
                ("c/b throughput ratio", f"{b / c:.2f}"),
                (
                    "runs (a, b, c)",
                    " / ".join(", ".join(f"{t:.2f}" for t in x) for x in (raw, decoded, pipeline)),
                ),
            ]
        )
    finally:
        spark.stop()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
