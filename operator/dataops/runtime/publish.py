"""Write-audit-publish for pipelines with quality gates.

Each sink's output is written once to a staging folder (Parquet), the gates validate what was
staged, and only then is it published to the sink: a Delta write is one atomic commit; a file
overwrite is written beside the target and swapped in with a rename (an unpartitioned Parquet
overwrite staged on the sink's file system is the staged folder itself, renamed in); appends are one
committed Spark job. A failed gate publishes nothing and leaves the staged data in place as quarantine.

Staging goes to ``<stagingPath>/<run>/<sink>``, or by default beside the sink
(``<path>.__staging/<run>``). A JDBC sink has no path: without ``stagingPath`` its output is staged
in the driver's temporary folder, which is only right when executors share that file system (local
runs); on a cluster, set ``stagingPath`` to shared storage.
"""

from __future__ import annotations

import tempfile

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from dataops.api.v1alpha1.datapipeline import Sink, SinkFormat, WriteMode
from dataops.runtime.error_text import failure_line
from dataops.runtime.errors import SinkError
from dataops.runtime.hadoop import hadoop_fs
from dataops.runtime.io import _swap, write_sink
from dataops.runtime.merge import MergeOutcome

STAGING_SUFFIX = ".__staging"


def staging_location(root: str | None, sink: Sink, *, pipeline: str, run_id: str) -> str:
    if root:
        return f"{root.rstrip('/')}/{run_id}/{sink.name}"
    if sink.path:
        return f"{sink.path.rstrip('/')}{STAGING_SUFFIX}/{run_id}"
    return f"{tempfile.gettempdir()}/dataops-staging/{pipeline}/{run_id}/{sink.name}"


def stage(df: DataFrame, location: str) -> None:
    df.write.mode("overwrite").parquet(location)


def staged(spark: SparkSession, location: str, schema: StructType | None = None) -> DataFrame:
    """The staged rows; with the ``schema`` they were written with, Spark reads no footer for it."""
    reader = spark.read if schema is None else spark.read.schema(schema)
    return reader.parquet(location)


def publish(spark: SparkSession, sink: Sink, df: DataFrame, *, run_id: str) -> MergeOutcome | None:
    """Publish ``df`` (the staged rows) to the sink; a merge returns what it changed."""
    files = sink.format not in (SinkFormat.DELTA, SinkFormat.JDBC)
    if files and sink.mode == WriteMode.OVERWRITE and sink.path:
        _overwrite_by_swap(spark, sink, df, beside=f"{sink.path.rstrip('/')}.__publish-{run_id}")
        return None
    return write_sink(spark, sink, df)


def publishable_by_rename(spark: SparkSession, sink: Sink, staged_at: str) -> bool:
    """Whether the staged folder is already exactly what the sink's write would produce (a whole
    Parquet overwrite, unpartitioned) on the sink's own file system: then publishing it is a rename."""
    if sink.format != SinkFormat.PARQUET or sink.mode != WriteMode.OVERWRITE or sink.partition_by:
        return False
    if sink.path is None:
        return False
    staged_fs, _ = hadoop_fs(spark, staged_at)
    target_fs, _ = hadoop_fs(spark, sink.path)
    return bool(staged_fs.getUri().equals(target_fs.getUri()))


def publish_staged(spark: SparkSession, sink: Sink, staged_at: str) -> None:
    """Swap the staged folder in as the sink (see :func:`publishable_by_rename`): readers see the old
    files or the new ones, never a half-written folder, and nothing is written twice."""
    assert sink.path is not None
    _swap(spark, staged_at, sink.path)


def _overwrite_by_swap(spark: SparkSession, sink: Sink, df: DataFrame, *, beside: str) -> None:
    """Write the new folder beside the target, then rename it into place: readers see the old
    files or the new ones, never a half-written folder."""
    assert sink.path is not None
    writer = df.write.format(sink.format.value).mode("overwrite")
    if sink.partition_by:
        writer = writer.partitionBy(*sink.partition_by)
    try:
        writer.save(beside)
    except AnalysisException as exc:
        _delete(spark, beside)
        raise SinkError(sink.name, failure_line(exc)) from exc
    except BaseException:  # a failed job leaves what its tasks wrote: the target is untouched
        _delete(spark, beside)
        raise
    _swap(spark, beside, sink.path)


def _delete(spark: SparkSession, location: str) -> None:
    fs, path = hadoop_fs(spark, location)
    fs.delete(path, True)


def discard(spark: SparkSession, location: str) -> None:
    """Delete a staging folder, and ``<sink>.__staging/`` (or the run's folder under stagingPath)
    when nothing else is left in it."""
    fs, path = hadoop_fs(spark, location)
    fs.delete(path, True)
    parent = path.getParent()  # <sink>.__staging/ when it is empty now
    if parent is not None and fs.exists(parent) and len(fs.listStatus(parent)) == 0:
        fs.delete(parent, True)
