"""Reading sources and writing sinks with Spark."""

from __future__ import annotations

import os
from typing import Any

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from dataops.api.v1alpha1.common import SecretKeySelector
from dataops.api.v1alpha1.datapipeline import (
    ColumnSpec,
    FileFormat,
    JdbcCredentials,
    Sink,
    SinkFormat,
    Source,
    WriteMode,
)
from dataops.plan.secrets import secret_env_name
from dataops.runtime.error_text import failure_line
from dataops.runtime.errors import SchemaMismatchError, SinkError, SourceError
from dataops.runtime.hadoop import hadoop_fs
from dataops.runtime.malformed import PARSED_FORMATS, MalformedCounts, read_parsed
from dataops.runtime.merge import (
    MergeOutcome,
    delta_merge_counts,
    file_merge_counts,
    key_condition,
    merge_delta_table,
    one_row_per_key,
)


def ddl_schema(columns: list[ColumnSpec]) -> str:
    return ", ".join(f"`{c.name}` {c.type}{'' if c.nullable else ' NOT NULL'}" for c in columns)


def resolve_secret(ref: SecretKeySelector, where: str) -> str:
    name = secret_env_name(ref)
    value = os.environ.get(name)
    if value is None:
        raise SourceError(where, f"secret {ref.name}/{ref.key} is not available (expected env {name})")
    return value


def _jdbc_options(credentials: JdbcCredentials | None, where: str) -> dict[str, str]:
    options: dict[str, str] = {}
    if credentials is not None:
        if credentials.user_secret_ref is not None:
            options["user"] = resolve_secret(credentials.user_secret_ref, where)
        if credentials.password_secret_ref is not None:
            options["password"] = resolve_secret(credentials.password_secret_ref, where)
    return options


def path_exists(spark: SparkSession, path: str) -> bool:
    fs, hadoop_path = hadoop_fs(spark, path)
    return bool(fs.exists(hadoop_path))


def read_source(
    spark: SparkSession,
    source: Source,
    malformed: MalformedCounts | None = None,
    *,
    run_id: str = "run",
    keep_cached: bool = True,
) -> DataFrame:
    """The source's rows; csv and json records that do not parse are handled per ``onMalformed``
    (counted in ``malformed``)."""
    try:
        if source.file is not None:
            spec = source.file
            if spec.format != FileFormat.DELTA and not path_exists(spark, spec.path):
                raise SourceError(source.name, f"input path {spec.path!r} does not exist")
            if spec.format in PARSED_FORMATS:
                counts = malformed if malformed is not None else MalformedCounts()
                return read_parsed(spark, source.name, spec, counts, run_id=run_id, keep_cached=keep_cached)
            reader = spark.read.format(spec.format.value).options(**spec.options)
            if spec.schema_:
                reader = reader.schema(ddl_schema(spec.schema_))
            return reader.load(spec.path)
        if source.jdbc is not None:
            jdbc = source.jdbc
            reader = spark.read.format("jdbc").option("url", jdbc.url)
            reader = (
                reader.option("dbtable", jdbc.table) if jdbc.table else reader.option("query", jdbc.query)
            )
            if jdbc.driver:
                reader = reader.option("driver", jdbc.driver)
            return reader.options(**_jdbc_options(jdbc.credentials, source.name)).load()
    except AnalysisException as exc:
        raise SourceError(source.name, _first_line(exc)) from exc
    kind = "kafka" if source.kafka is not None else "connector"
    raise SourceError(source.name, f"{kind} sources are read by Streaming pipelines only")


def _first_line(exc: Exception) -> str:
    return failure_line(exc)


def _schema_diff(target: StructType, output: StructType) -> list[str]:
    want = {f.name.lower(): f.dataType.simpleString() for f in target.fields}
    have = {f.name.lower(): f.dataType.simpleString() for f in output.fields}
    problems = [f"column {name!r} is missing from the output" for name in want if name not in have]
    problems += [f"column {name!r} is not in the target" for name in have if name not in want]
    problems += [
        f"column {name!r} is {have[name]} in the output but {want[name]} in the target"
        for name in want
        if name in have and want[name] != have[name]
    ]
    return problems


def check_schema(spark: SparkSession, sink: Sink, df: DataFrame) -> None:
    """Appending or merging into an existing target needs the same columns and types."""
    if sink.path is None or sink.mode == WriteMode.OVERWRITE or not path_exists(spark, sink.path):
        return
    try:
        target = spark.read.format(sink.format.value).load(sink.path).schema
    except AnalysisException:
        return  # an empty or foreign folder: let the write report it
    problems = _schema_diff(target, df.schema)
    if problems:
        raise SchemaMismatchError(
            sink.name, "schema mismatch with the existing target: " + "; ".join(problems)
        )


def write_sink(spark: SparkSession, sink: Sink, df: DataFrame) -> MergeOutcome | None:
    """Write ``df``; a merge returns what it inserted and updated (see runtime/merge.py)."""
    try:
        if sink.format == SinkFormat.JDBC:
            _write_jdbc(sink, df)
            return None
        check_schema(spark, sink, df)
        if sink.mode == WriteMode.MERGE:
            with one_row_per_key(sink, df) as (rows, superseded):
                merged = (
                    _merge_delta(spark, sink, rows)
                    if sink.format == SinkFormat.DELTA
                    else _merge_files(spark, sink, rows)
                )
            merged.superseded = superseded
            return merged
        writer = df.write.format(sink.format.value).mode(sink.mode.value)
        if sink.partition_by:
            writer = writer.partitionBy(*sink.partition_by)
        writer.save(sink.path)
        return None
    except AnalysisException as exc:
        raise SinkError(sink.name, _first_line(exc)) from exc


def _write_jdbc(sink: Sink, df: DataFrame) -> None:
    target = sink.jdbc
    assert target is not None
    if sink.mode == WriteMode.MERGE:
        raise SinkError(sink.name, "merge into a JDBC table is not supported; use append or overwrite")
    writer = df.write.format("jdbc").option("url", target.url).option("dbtable", target.table)
    if target.driver:
        writer = writer.option("driver", target.driver)
    writer.options(**_jdbc_options(target.credentials, sink.name)).mode(sink.mode.value).save()


def _merge_delta(spark: SparkSession, sink: Sink, rows: DataFrame) -> MergeOutcome:
    assert sink.path is not None
    if not path_exists(spark, sink.path):
        writer = rows.write.format("delta")
        if sink.partition_by:
            writer = writer.partitionBy(*sink.partition_by)
        writer.save(sink.path)
        inserted = spark.read.format("delta").load(sink.path).count()
        return MergeOutcome(inserted=inserted, updated=0, table_rows=inserted)
    merge_delta_table(spark, sink.path, rows, sink.merge_keys, columns=rows.columns)
    inserted, updated, table_rows = delta_merge_counts(spark, sink.path)
    return MergeOutcome(inserted=inserted, updated=updated, table_rows=table_rows)


def _merge_files(spark: SparkSession, sink: Sink, rows: DataFrame) -> MergeOutcome:
    """Upsert for plain files: keep target rows whose key is not in the output, add the output,
    write next to the target and swap it in."""
    assert sink.path is not None
    fmt = sink.format.value
    if path_exists(spark, sink.path):
        existing = spark.read.format(fmt).load(sink.path)
        kept, updated, inserted = file_merge_counts(existing, rows, sink.merge_keys)
        source_keys = rows.select(*sink.merge_keys).alias("s")
        merged = existing.alias("t").join(source_keys, F.expr(key_condition(sink.merge_keys)), "left_anti")
        merged = merged.unionByName(rows)
    else:
        merged, kept, updated, inserted = rows, 0, 0, rows.count()
    staging = sink.path.rstrip("/") + ".__merge_staging"
    writer = merged.write.format(fmt).mode("overwrite")
    if sink.partition_by:
        writer = writer.partitionBy(*sink.partition_by)
    writer.save(staging)
    _swap(spark, staging, sink.path)
    # rows holds one row per key and is cached: counting it costs no read of the input
    return MergeOutcome(inserted=inserted, updated=updated, table_rows=kept + rows.count())


def _swap(spark: SparkSession, staging: str, target: str) -> None:
    jvm: Any = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    staging_path = jvm.org.apache.hadoop.fs.Path(staging)
    target_path = jvm.org.apache.hadoop.fs.Path(target)
    old_path = jvm.org.apache.hadoop.fs.Path(target.rstrip("/") + ".__merge_old")
    fs = target_path.getFileSystem(conf)
    fs.delete(old_path, True)
    if fs.exists(target_path) and not fs.rename(target_path, old_path):
        raise SinkError(target, "could not move the old target aside")
    if not fs.rename(staging_path, target_path):
        fs.rename(old_path, target_path)
        raise SinkError(target, "could not move the merged output into place")
    fs.delete(old_path, True)
