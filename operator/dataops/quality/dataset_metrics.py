"""Dataset metrics of one validation in one Spark aggregation: row count, per-column null counts and
numeric summaries (the OpenLineage data quality metrics facet), the newest value of freshness
columns and the distribution of shift-checked columns (for anomaly checks against history)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, NumericType, TimestampNTZType, TimestampType

from dataops.api.v1alpha1.dataqualitysuite import (
    AnomalyKind,
    ColumnDistribution,
    DataQualitySuiteSpec,
    DatasetMetrics,
)

QUANTILES = (0.05, 0.5, 0.95)


@dataclass
class ColumnMetrics:
    """One column's entry of the OpenLineage ``dataQualityMetrics`` facet."""

    count: int
    null_count: int
    sum: float | None = None
    min: float | None = None
    max: float | None = None
    quantiles: dict[str, float] = field(default_factory=dict)

    def to_facet(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count, "nullCount": self.null_count}
        for key, value in (("sum", self.sum), ("min", self.min), ("max", self.max)):
            if value is not None:
                out[key] = value
        if self.quantiles:
            out["quantiles"] = self.quantiles
        return out


@dataclass
class MeasuredDataset:
    metrics: DatasetMetrics
    columns: dict[str, ColumnMetrics]


def hide_values(measured: MeasuredDataset, protected: Mapping[str, str]) -> MeasuredDataset:
    """``measured`` without any value of a classified column: counts stay; sums, minima, maxima,
    quantiles, newest times and distributions of those columns go (they are values, or reveal them)."""
    hidden = {c.lower() for c in protected}
    columns = {
        name: ColumnMetrics(count=m.count, null_count=m.null_count) if name.lower() in hidden else m
        for name, m in measured.columns.items()
    }
    metrics = measured.metrics.model_copy(
        update={
            "newest": {k: v for k, v in measured.metrics.newest.items() if k.lower() not in hidden},
            "distributions": {
                k: v for k, v in measured.metrics.distributions.items() if k.lower() not in hidden
            },
        }
    )
    return MeasuredDataset(metrics=metrics, columns=columns)


def schema_of(df: DataFrame) -> list[str]:
    return [f"{f.name}:{f.dataType.simpleString()}" for f in df.schema.fields]


def schema_hash(columns: list[str]) -> str:
    return hashlib.sha256("\n".join(columns).encode()).hexdigest()[:16]


def touched_columns(suite: DataQualitySuiteSpec, df: DataFrame) -> list[str]:
    present = set(df.columns)
    names: list[str] = []
    for e in suite.expectations:
        names += [c for c in (e.column, e.column_a, e.column_b) if c]
        names += e.column_list or []
    names += [a.column for a in suite.anomalies if a.column]
    return [n for n in dict.fromkeys(names) if n in present]


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)  # a date


def measure(df: DataFrame, suite: DataQualitySuiteSpec) -> MeasuredDataset:
    """Everything in one ``df.agg``; quantiles are approximate (Spark's percentile_approx)."""
    types = {f.name: f.dataType for f in df.schema.fields}
    columns = touched_columns(suite, df)
    numeric = [c for c in columns if isinstance(types[c], NumericType)]
    fresh = [
        a.column
        for a in suite.anomalies
        if a.type == AnomalyKind.FRESHNESS
        and a.column in types
        and isinstance(types[a.column], TimestampType | TimestampNTZType | DateType)
    ]
    shifted = [
        a.column for a in suite.anomalies if a.type == AnomalyKind.DISTRIBUTION_SHIFT and a.column in numeric
    ]
    aggs: list[Column] = [F.count(F.lit(1)).alias("rows")]
    for i, c in enumerate(columns):
        aggs.append(F.count(F.col(c)).alias(f"n{i}"))
        if c in numeric:
            value = F.col(c).cast("double")
            aggs += [F.sum(value).alias(f"s{i}"), F.min(value).alias(f"lo{i}"), F.max(value).alias(f"hi{i}")]
        if c in shifted:
            aggs += [
                F.mean(F.col(c)).alias(f"m{i}"),
                F.stddev_samp(F.col(c)).alias(f"sd{i}"),
                F.percentile_approx(F.col(c).cast("double"), list(QUANTILES), 10000).alias(f"q{i}"),
            ]
        if c in fresh:
            aggs.append(F.max(F.col(c)).alias(f"t{i}"))
    row = df.agg(*aggs).collect()[0].asDict()
    rows = int(row["rows"])
    per_column: dict[str, ColumnMetrics] = {}
    newest: dict[str, datetime] = {}
    distributions: dict[str, ColumnDistribution] = {}
    for i, c in enumerate(columns):
        non_null = int(row[f"n{i}"])
        metrics = ColumnMetrics(count=non_null, null_count=rows - non_null)
        if c in numeric:
            metrics.sum, metrics.min, metrics.max = (_as_float(row[f"{k}{i}"]) for k in ("s", "lo", "hi"))
        if c in shifted:
            quantiles = row[f"q{i}"] or [None] * len(QUANTILES)
            metrics.quantiles = {
                str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True) if v is not None
            }
            distributions[c] = ColumnDistribution(
                mean=_as_float(row[f"m{i}"]),
                stddev=_as_float(row[f"sd{i}"]),
                p05=_as_float(quantiles[0]),
                p50=_as_float(quantiles[1]),
                p95=_as_float(quantiles[2]),
            )
        if c in fresh:
            when = _as_time(row[f"t{i}"])
            if when is not None:
                newest[c] = when
        per_column[c] = metrics
    schema = schema_of(df)
    return MeasuredDataset(
        metrics=DatasetMetrics(
            row_count=rows,
            schema_hash=schema_hash(schema),
            columns=schema,
            newest=newest,
            distributions=distributions,
        ),
        columns=per_column,
    )
