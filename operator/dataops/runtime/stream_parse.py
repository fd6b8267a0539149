"""Kafka records of a micro-batch -> typed rows, and the records that could not be parsed.

JSON values are parsed against the source's declared schema (PERMISSIVE, with a corrupt-record
column: a malformed record never fails the batch). A record is dead-lettered when its value is not
JSON of that shape or a non-nullable column is missing. Debezium change events (JSON converter
without schemas) become the row after the change; deletes carry the row before it with
``__deleted = true``; tombstones are skipped. Metadata columns start with two underscores.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from dataops.api.v1alpha1.datapipeline import ColumnSpec, KafkaRecordFormat, KafkaSource
from dataops.runtime.io import ddl_schema

CORRUPT = "__corrupt"
META_PREFIX = "__"
ORDER_COLUMNS = ("__partition", "__offset")
RAW_COLUMNS = ("key", "value", "topic")  # kept for the dead letters only


def _row_schema(columns: list[ColumnSpec]) -> StructType:
    schema = StructType.fromDDL(ddl_schema(columns))
    assert isinstance(schema, StructType)
    return schema


def _value_schema(source: KafkaSource) -> StructType:
    row = _row_schema(source.schema_)
    if source.format == KafkaRecordFormat.DEBEZIUM:
        fields = [
            StructField("before", row),
            StructField("after", row),
            StructField("op", StringType()),
            StructField("ts_ms", LongType()),
        ]
        return StructType([*fields, StructField(CORRUPT, StringType())])
    return StructType([*row.fields, StructField(CORRUPT, StringType())])


def _reason(source: KafkaSource, parsed: Column) -> Column:
    """Why a record is rejected (null when it is fine)."""
    reason = F.when(
        parsed.isNull() | parsed[CORRUPT].isNotNull(), F.lit("malformed: not JSON of the declared schema")
    )
    state = parsed
    if source.format == KafkaRecordFormat.DEBEZIUM:
        op = parsed["op"]
        reason = reason.when(
            ~op.isin("c", "u", "d", "r") | op.isNull(),
            F.concat(F.lit("unknown Debezium op "), F.coalesce(op, F.lit("null"))),
        )
        state = F.when(op == "d", parsed["before"]).otherwise(parsed["after"])
    for name in (c.name for c in source.schema_ if not c.nullable):
        reason = reason.when(state.isNull() | state[name].isNull(), F.lit(f"missing required field {name}"))
    return reason


def parse_records(batch: DataFrame, source: KafkaSource) -> DataFrame:
    """The batch's records with their parsed value ``r`` and ``__reason`` (null when valid).

    The raw ``key``, ``value`` and ``topic`` are kept for the rejected records only (their dead
    letters carry them); a valid record's are null. The batch is cached once parsed, and holding
    every raw value beside its parsed row made building that cache a fifth of the batch's time."""
    records = batch.where(F.col("value").isNotNull())  # tombstones carry no data
    text = F.col("value").cast("string")
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = records.select(
        *RAW_COLUMNS,
        "partition",
        "offset",
        F.from_json(text, _value_schema(source), options).alias("r"),
    ).withColumn("__reason", _reason(source, F.col("r")))
    rejected = F.col("__reason").isNotNull()
    return parsed.select(
        *(F.when(rejected, F.col(c)).alias(c) for c in RAW_COLUMNS), "partition", "offset", "r", "__reason"
    )


def rejected_records(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("__reason").isNotNull()).select(
        "key", "value", "__reason", "topic", "partition", "offset"
    )


def typed_rows(parsed: DataFrame, source: KafkaSource) -> DataFrame:
    good = parsed.where(F.col("__reason").isNull())
    names = [c.name for c in source.schema_]
    order = [F.col("partition").alias("__partition"), F.col("offset").alias("__offset")]
    if source.format == KafkaRecordFormat.DEBEZIUM:
        deleted = F.col("r.op") == "d"
        values = [
            F.when(deleted, F.col(f"r.before.{n}")).otherwise(F.col(f"r.after.{n}")).alias(n) for n in names
        ]
        return good.select(
            *values,
            F.col("r.op").alias("__op"),
            deleted.alias("__deleted"),
            F.col("r.ts_ms").alias("__source_ts_ms"),
            *order,
        )
    return good.select(*[F.col(f"r.{n}").alias(n) for n in names], *order)


def dead_letter_frame(rejected: DataFrame, pipeline: str) -> DataFrame:
    """Rejected records as Kafka records: the original key and value, the reason in headers."""

    def header(name: str, value: Column) -> Column:
        return F.struct(F.lit(name).alias("key"), value.cast("string").cast("binary").alias("value"))

    return rejected.select(
        "key",
        "value",
        F.array(
            header("dataops.reason", F.col("__reason")),
            header("dataops.pipeline", F.lit(pipeline)),
            header("dataops.source.topic", F.col("topic")),
            header("dataops.source.partition", F.col("partition")),
            header("dataops.source.offset", F.col("offset")),
        ).alias("headers"),
        # where each record came from, to leave out those a replayed batch already sent
        F.col("topic").alias("__topic"),
        F.col("partition").cast("int").alias("__partition"),
        F.col("offset").cast("long").alias("__offset"),
    )


def data_columns(df: DataFrame) -> list[str]:
    return [c for c in df.columns if not c.startswith(META_PREFIX)]
