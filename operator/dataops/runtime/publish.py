"""Write-audit-publish for pipelines with quality gates.

Each sink's output is written once to a staging folder (Parquet), the gates validate what was
staged, and only then is it published to the sink: a Delta write is one atomic commit; a file
overwrite is written beside the target and swapped in with a rename; appends are one committed
Spark job. A failed gate publishes nothing and leaves the staged data in place as quarantine.
"""

from __future__ import annotations

import tempfile
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.datapipeline import Sink, SinkFormat, WriteMode
from dataops.runtime.io import _swap, write_sink

STAGING_SUFFIX = ".__staging"


def staging_location(root: str | None, sink: Sink, *, pipeline: str, run_id: str) -> str:
    if root:
        return f"{root.rstrip('/')}/{run_id}/{sink.name}"
    if sink.path:
        return f"{sink.path.rstrip('/')}{STAGING_SUFFIX}/{run_id}"
    return f"{tempfile.gettempdir()}/dataops-staging/{pipeline}/{run_id}/{sink.name}"


def stage(df: DataFrame, location: str) -> None:
    df.write.mode("overwrite").parquet(location)


def staged(spark: SparkSession, location: str) -> DataFrame:
    return spark.read.parquet(location)


def publish(spark: SparkSession, sink: Sink, df: DataFrame, *, run_id: str) -> int | None:
    """Publish ``df`` (the staged rows) to the sink; returns rows the writer reported (merges)."""
    files = sink.format not in (SinkFormat.DELTA, SinkFormat.JDBC)
    if files and sink.mode == WriteMode.OVERWRITE and sink.path:
        beside = f"{sink.path.rstrip('/')}.__publish-{run_id}"
        writer = df.write.format(sink.format.value).mode("overwrite")
        if sink.partition_by:
            writer = writer.partitionBy(*sink.partition_by)
        writer.save(beside)
        _swap(spark, beside, sink.path)
        return None
    return write_sink(spark, sink, df)


def discard(spark: SparkSession, location: str) -> None:
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    fs.delete(path, True)
    parent = path.getParent()  # <sink>.__staging/ when it is empty now
    if parent is not None and fs.exists(parent) and len(fs.listStatus(parent)) == 0:
        fs.delete(parent, True)
