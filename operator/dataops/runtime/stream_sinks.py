"""Idempotent micro-batch writes: replaying a batch after a crash changes nothing.

Delta appends carry the query's id and the batch id as ``txnAppId``/``txnVersion`` (Delta skips a
version it has already committed). Merges apply the latest change per key (a replay re-applies the
same states). File sinks get one ``batch_id=<n>`` folder per micro-batch, overwritten on replay.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapipeline import Sink, SinkFormat, WriteMode
from dataops.runtime.errors import SinkError
from dataops.runtime.merge import merge_delta_table
from dataops.runtime.stream_parse import ORDER_COLUMNS, data_columns


def latest_per_key(df: DataFrame, keys: list[str], latest_by: list[str] | None = None) -> DataFrame:
    """The last change of each key in the batch: the greatest ``latest_by`` values (nulls lose), then
    the change's source time, then Kafka order (same key, same partition), so ties resolve the same
    way when a batch is replayed."""
    order = [*(latest_by or []), *(c for c in ("__source_ts_ms", *ORDER_COLUMNS) if c in df.columns)]
    if not order:
        return df.dropDuplicates(keys)
    window = Window.partitionBy(*keys).orderBy(*[F.col(c).desc_nulls_last() for c in order])
    return df.withColumn("__rank", F.row_number().over(window)).where("__rank = 1").drop("__rank")


def _merge_delta(spark: SparkSession, sink: Sink, df: DataFrame) -> None:
    from delta.tables import DeltaTable

    assert sink.path is not None
    latest = latest_per_key(df, sink.merge_keys, sink.latest_by)
    columns = data_columns(df)
    deleted = "__deleted" if "__deleted" in df.columns else None
    if not DeltaTable.isDeltaTable(spark, sink.path):  # the folder may hold the checkpoint already
        latest.select(*columns).limit(0).write.format("delta").save(sink.path)
    merge_delta_table(spark, sink.path, latest, sink.merge_keys, columns=columns, deleted=deleted)


def write_batch(spark: SparkSession, sink: Sink, df: DataFrame, *, batch_id: int, app_id: str) -> None:
    if sink.format == SinkFormat.JDBC or sink.path is None:
        raise SinkError(sink.name, "Streaming pipelines write to Delta or file sinks")
    if sink.mode == WriteMode.MERGE:
        if sink.format != SinkFormat.DELTA:
            raise SinkError(sink.name, "merge in a Streaming pipeline needs a Delta sink")
        _merge_delta(spark, sink, df)
        return
    kept = df.where("NOT __deleted") if "__deleted" in df.columns else df  # appends drop deletes
    out = kept.select(*data_columns(df))
    if sink.format == SinkFormat.DELTA:
        writer = out.write.format("delta").option("txnAppId", app_id).option("txnVersion", batch_id)
        if sink.partition_by:
            writer = writer.partitionBy(*sink.partition_by)
        writer.mode("append").save(sink.path)
        return
    writer = out.write.format(sink.format.value).mode("overwrite")
    if sink.partition_by:
        writer = writer.partitionBy(*sink.partition_by)
    writer.save(f"{sink.path.rstrip('/')}/batch_id={batch_id}")
