"""Micro-batch logic of Streaming pipelines on real Spark, with batches shaped like the Kafka source's
(the end-to-end runs against a real broker are in tests/streaming/)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.datapipeline import KafkaSource, Sink
from dataops.runtime.stream_parse import dead_letter_frame, parse_records, rejected_records, typed_rows
from dataops.runtime.stream_sinks import write_batch

SCHEMA = [{"name": "id", "type": "long", "nullable": False}, {"name": "amount", "type": "double"}]


def _batch(spark: SparkSession, values: list[str | None], partition: int = 0) -> DataFrame:
    rows = [
        (None if v is None else str(i).encode(), None if v is None else v.encode(), "orders", partition, i)
        for i, v in enumerate(values)
    ]
    return spark.createDataFrame(rows, "key binary, value binary, topic string, partition int, offset long")


@dataclass
class Parsed:
    rows: DataFrame
    rejected: DataFrame


def parse_batch(batch: DataFrame, source: KafkaSource) -> Parsed:
    """What StreamingRun does with a micro-batch before writing it."""
    parsed = parse_records(batch, source)
    return Parsed(typed_rows(parsed, source), rejected_records(parsed))


def _source(**extra: Any) -> KafkaSource:
    return KafkaSource.model_validate({"topic": "orders", "schema": SCHEMA, **extra})


def test_records_are_typed_and_bad_ones_rejected_with_a_reason(spark: SparkSession) -> None:
    values = [
        json.dumps({"id": 1, "amount": 9.5}),
        "{not json",
        json.dumps({"id": "abc", "amount": 1.0}),
        json.dumps({"amount": 3.0}),
        json.dumps({"id": 2, "amount": None, "extra": "ignored"}),
        None,  # a tombstone: no data, not an error
    ]
    parsed = parse_batch(_batch(spark, values), _source())
    assert sorted((r["id"], r["amount"]) for r in parsed.rows.select("id", "amount").collect()) == [
        (1, 9.5),
        (2, None),
    ]
    rejected = {r["offset"]: r["__reason"] for r in parsed.rejected.collect()}
    assert rejected == {
        1: "malformed: not JSON of the declared schema",
        2: "malformed: not JSON of the declared schema",
        3: "missing required field id",
    }
    dlq = dead_letter_frame(parsed.rejected, "orders-stream").collect()
    headers = {h["key"]: bytes(h["value"]).decode() for h in dlq[0]["headers"]}
    assert headers["dataops.reason"].startswith(("malformed", "missing"))
    assert headers["dataops.pipeline"] == "orders-stream" and headers["dataops.source.topic"] == "orders"


def test_only_rejected_records_keep_their_raw_key_value_and_topic(spark: SparkSession) -> None:
    """The parsed batch is cached: a valid record's raw bytes are dropped, a rejected one's are sent
    verbatim to the dead-letter topic; and each value is parsed once, not once per use of ``r``."""
    values = [json.dumps({"id": 1, "amount": 2.0}), '{"id": 7, "amount": ', json.dumps({"amount": 1.0})]
    parsed = parse_records(_batch(spark, values, partition=3), _source())
    rows = {r["offset"]: r for r in parsed.collect()}
    assert (rows[0]["key"], rows[0]["value"], rows[0]["topic"], rows[0]["r"]["id"]) == (None, None, None, 1)
    assert (rows[0]["partition"], rows[0]["__reason"]) == (3, None)
    for offset in (1, 2):
        raw = (bytes(rows[offset]["key"]), bytes(rows[offset]["value"]).decode(), rows[offset]["topic"])
        assert raw == (str(offset).encode(), values[offset], "orders")
    dlq = dead_letter_frame(rejected_records(parsed), "p").collect()
    assert sorted(bytes(r["value"]).decode() for r in dlq) == sorted(values[1:])
    plan = parsed._jdf.queryExecution().optimizedPlan().toString()
    assert plan.count("from_json(") == 1, plan


def test_delta_batches_are_idempotent_on_replay(spark: SparkSession, tmp_path: Path) -> None:
    sink = Sink.model_validate(
        {"name": "lake", "from": "orders", "format": "delta", "path": str(tmp_path / "t")}
    )
    rows = parse_batch(
        _batch(spark, [json.dumps({"id": i, "amount": 1.0}) for i in range(50)]), _source()
    ).rows
    for _ in range(2):  # the replay of batch 0 after a crash
        write_batch(spark, sink, rows, batch_id=0, app_id="app-a")
    assert spark.read.format("delta").load(sink.path).count() == 50
    write_batch(spark, sink, rows, batch_id=1, app_id="app-a")
    assert spark.read.format("delta").load(sink.path).count() == 100
    assert spark.read.format("delta").load(sink.path).columns == ["id", "amount"]  # no metadata columns


def test_file_sink_batches_overwrite_their_own_folder(spark: SparkSession, tmp_path: Path) -> None:
    sink = Sink.model_validate(
        {"name": "files", "from": "orders", "format": "parquet", "path": str(tmp_path / "p")}
    )
    rows = parse_batch(_batch(spark, [json.dumps({"id": i}) for i in range(10)]), _source()).rows
    write_batch(spark, sink, rows, batch_id=7, app_id="x")
    write_batch(spark, sink, rows, batch_id=7, app_id="x")
    df = spark.read.parquet(sink.path or "")
    assert df.count() == 10 and sorted(set(r["batch_id"] for r in df.collect())) == [7]


def _change(op: str, before: dict[str, Any] | None, after: dict[str, Any] | None, ts: int) -> str:
    return json.dumps({"before": before, "after": after, "op": op, "ts_ms": ts})


def test_debezium_changes_merge_to_the_latest_state_per_key(spark: SparkSession, tmp_path: Path) -> None:
    source = _source(format="debezium")
    sink = Sink.model_validate(
        {
            "name": "lake",
            "from": "orders",
            "format": "delta",
            "path": str(tmp_path / "m"),
            "mode": "merge",
            "mergeKeys": ["id"],
        }
    )
    first = [
        _change("r", None, {"id": 1, "amount": 1.0}, 1),
        _change("c", None, {"id": 2, "amount": 2.0}, 2),
        _change("c", None, {"id": 3, "amount": 3.0}, 3),
        _change("u", {"id": 2, "amount": 2.0}, {"id": 2, "amount": 20.0}, 4),
        _change("x", None, {"id": 9, "amount": 0.0}, 5),
    ]
    parsed = parse_batch(_batch(spark, first), source)
    assert [r["__reason"] for r in parsed.rejected.collect()] == ["unknown Debezium op x"]
    write_batch(spark, sink, parsed.rows, batch_id=0, app_id="cdc")
    second = [
        _change("d", {"id": 3, "amount": 3.0}, None, 6),
        None,  # the tombstone after the delete
        _change("u", {"id": 1, "amount": 1.0}, {"id": 1, "amount": 11.0}, 7),
        _change("c", None, {"id": 4, "amount": 4.0}, 8),
        _change("d", {"id": 4, "amount": 4.0}, None, 9),
    ]
    for _ in range(2):  # replaying the batch gives the same table
        write_batch(spark, sink, parse_batch(_batch(spark, second), source).rows, batch_id=1, app_id="cdc")
    table = spark.read.format("delta").load(sink.path or "")
    assert sorted((r["id"], r["amount"]) for r in table.collect()) == [(1, 11.0), (2, 20.0)]
    assert table.columns == ["id", "amount"]
