"""Merge sinks: one row per key, then an upsert that reports what it changed.

A merge updates the target row of each key and inserts the others, so the run's rows must hold one
row per key. Identical rows collapse. Of different rows with the same key, ``latestBy`` picks the
one with the greatest values of its columns (compared in order, nulls lose); without ``latestBy``,
or when rows tie on all of them and still differ, the run fails naming the sink and a key: picking
one silently would publish an arbitrary answer.

Keys match null-safely (``<=>``) in Delta and in file merges alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapipeline import Sink
from dataops.runtime.errors import SinkError

_RANK = "__dataops_rank"
_ROWS_OF_KEY = "__dataops_rows_of_key"
_EXAMPLE_CHARS = 120


@dataclass
class MergeOutcome:
    """What one merge did: ``inserted + updated`` is the sink's rowsWritten."""

    inserted: int
    updated: int
    superseded: int = 0
    table_rows: int | None = None

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def to_json(self) -> dict[str, int]:
        out = {"inserted": self.inserted, "updated": self.updated, "superseded": self.superseded}
        if self.table_rows is not None:
            out["tableRows"] = self.table_rows
        return out


def key_condition(keys: list[str], target: str = "t", source: str = "s") -> str:
    return " AND ".join(f"{target}.`{k}` <=> {source}.`{k}`" for k in keys)


def merge_delta_table(
    spark: SparkSession,
    path: str,
    rows: DataFrame,
    keys: list[str],
    *,
    columns: list[str],
    deleted: str | None = None,
) -> None:
    """The one Delta merge, for batch sinks and streaming micro-batches alike: rows matched on
    ``keys`` (null-safe equality) update the target's ``columns``, the others are inserted. With
    ``deleted`` (a boolean column of change records), a matched row flagged deleted is removed and
    a flagged row is never inserted. The table must exist; ``rows`` hold one row per key."""
    from delta.tables import DeltaTable

    values: dict[str, str | Column] = {f"`{c}`": f"s.`{c}`" for c in columns}
    merge = DeltaTable.forPath(spark, path).alias("t").merge(rows.alias("s"), key_condition(keys))
    if deleted is not None:
        merge = merge.whenMatchedDelete(condition=f"s.`{deleted}`")
        merge = merge.whenMatchedUpdate(condition=f"NOT s.`{deleted}`", set=values)
        merge = merge.whenNotMatchedInsert(condition=f"NOT s.`{deleted}`", values=values)
    else:
        merge = merge.whenMatchedUpdate(set=values).whenNotMatchedInsert(values=values)
    merge.execute()


def _order(sink: Sink) -> list[Column]:
    if not sink.latest_by:
        return [F.lit(0)]  # every row of a key ranks first: several different ones are ambiguous
    return [F.col(c).desc_nulls_last() for c in sink.latest_by]


def _example(row: Any, keys: list[str]) -> str:
    text = ", ".join(f"{k}={row[k]!r}" for k in keys)
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


@contextmanager
def one_row_per_key(sink: Sink, df: DataFrame) -> Iterator[tuple[DataFrame, int]]:
    """The rows to merge (one per key) and how many of ``df``'s rows they supersede.

    The input is cached while the merge runs (counted, checked and merged from one read)."""
    _check_columns(sink, df)
    keys = sink.merge_keys
    columns = df.columns
    cached = df.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        total = cached.count()
        ranked = cached.withColumn(_RANK, F.rank().over(Window.partitionBy(*keys).orderBy(*_order(sink))))
        winners = ranked.where(F.col(_RANK) == 1).drop(_RANK).dropDuplicates()
        checked = winners.withColumn(_ROWS_OF_KEY, F.count(F.lit(1)).over(Window.partitionBy(*keys)))
        ambiguous = checked.where(F.col(_ROWS_OF_KEY) > 1)
        stats = checked.agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.when(F.col(_ROWS_OF_KEY) > 1, 1.0 / F.col(_ROWS_OF_KEY))).alias("keys"),
        ).collect()[0]
        if stats["keys"]:
            example = ambiguous.select(*keys).limit(1).collect()[0]
            raise SinkError(sink.name, _ambiguity(sink, round(stats["keys"]), _example(example, keys)))
        yield winners.select(*columns), total - int(stats["rows"])
    finally:
        cached.unpersist()


def _check_columns(sink: Sink, df: DataFrame) -> None:
    have = {c.lower() for c in df.columns}
    for field, names in (("mergeKeys", sink.merge_keys), ("latestBy", sink.latest_by)):
        missing = [n for n in names if n.lower() not in have]
        if missing:
            raise SinkError(
                sink.name,
                f"{field} column(s) {', '.join(missing)} not in the rows written "
                f"(columns: {', '.join(df.columns)})",
            )


def _ambiguity(sink: Sink, keys: int, example: str) -> str:
    if not sink.latest_by:
        return (
            f"{keys:,} merge key(s) occur in several different rows of this run (e.g. {example}); set "
            "latestBy to merge the newest row of each key, or make the rows unique in a step"
        )
    return (
        f"{keys:,} merge key(s) have several different rows with the same latest "
        f"{', '.join(sink.latest_by)} (e.g. {example}); add a column to latestBy that breaks the tie"
    )


def file_merge_counts(existing: DataFrame, rows: DataFrame, keys: list[str]) -> tuple[int, int, int]:
    """(target rows kept, target rows updated, rows inserted) of merging ``rows`` into ``existing``,
    in one job: a full outer join of the keys."""
    target = existing.select(*keys).withColumn("__t", F.lit(1)).alias("t")
    source = rows.select(*keys).withColumn("__s", F.lit(1)).alias("s")
    joined = target.join(source, F.expr(key_condition(keys)), "full_outer")
    in_target, in_source = F.col("t.__t").isNotNull(), F.col("s.__s").isNotNull()
    counts = joined.agg(
        F.sum(F.when(in_target & ~in_source, 1).otherwise(0)).alias("kept"),
        F.sum(F.when(in_target & in_source, 1).otherwise(0)).alias("updated"),
        F.sum(F.when(~in_target & in_source, 1).otherwise(0)).alias("inserted"),
    ).collect()[0]
    return int(counts["kept"] or 0), int(counts["updated"] or 0), int(counts["inserted"] or 0)


def delta_merge_counts(spark: SparkSession, path: str) -> tuple[int, int, int | None]:
    """(inserted, updated, table rows) of the merge just committed to the Delta table at ``path``."""
    from delta.tables import DeltaTable

    metrics = DeltaTable.forPath(spark, path).history(1).collect()[0]["operationMetrics"] or {}
    table_rows = spark.read.format("delta").load(path).count()  # from the log's statistics
    return (
        int(metrics.get("numTargetRowsInserted", 0)),
        int(metrics.get("numTargetRowsUpdated", 0)),
        table_rows,
    )
