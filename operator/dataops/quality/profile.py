"""`dataops profile`: propose a DataQualitySuite from the data itself.

One aggregation pass computes per column the null rate, numeric ranges, string lengths and an
approximate distinct count; low-cardinality columns then get their value sets. Every proposed
expectation passes on the profiled data.

A suite is printed, applied and shown in reports, so it must not carry personal data: a
``protected`` column (one that looks like personal data, or one a DataPolicy classifies) gets no
expectation that holds its values (value set, numeric range); its null rate, lengths, uniqueness
and presence are still proposed.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import NumericType, StringType

LOW_CARDINALITY = 10


def _floor2(value: float) -> float:
    return math.floor(value * 100) / 100


def propose_expectations(df: DataFrame, *, protected: Collection[str] = ()) -> list[dict[str, Any]]:
    """``protected``: column names (any case) whose values no expectation may carry."""
    fields = df.schema.fields
    hidden = {name.lower() for name in protected}
    aggregates = [F.count(F.lit(1)).alias("__rows")]
    for i, field in enumerate(fields):
        column = F.col(f"`{field.name}`")
        aggregates += [F.count(column).alias(f"n{i}"), F.approx_count_distinct(column).alias(f"d{i}")]
        if isinstance(field.dataType, NumericType) and field.name.lower() not in hidden:
            aggregates += [F.min(column).alias(f"lo{i}"), F.max(column).alias(f"hi{i}")]
        elif isinstance(field.dataType, StringType):
            aggregates += [F.min(F.length(column)).alias(f"lo{i}"), F.max(F.length(column)).alias(f"hi{i}")]
    row = df.agg(*aggregates).first()
    assert row is not None
    stats = row.asDict()
    rows = int(stats["__rows"])
    expectations: list[dict[str, Any]] = [
        {
            "type": "expect_table_columns_to_match_set",
            "columnSet": [f.name for f in fields],
            "exactMatch": True,
        },
        {
            "type": "expect_table_row_count_to_be_between",
            "minValue": rows // 2,
            "maxValue": math.ceil(rows * 1.5),
        },
    ]
    for i, field in enumerate(fields):
        name = field.name
        nonnull, distinct = int(row[f"n{i}"]), int(row[f"d{i}"])
        if rows and nonnull:
            rule: dict[str, Any] = {"type": "expect_column_values_to_not_be_null", "column": name}
            if nonnull < rows:
                rule["mostly"] = _floor2(nonnull / rows)
            if rule.get("mostly", 1.0) > 0:
                expectations.append(rule)
        if not nonnull:
            continue
        low, high = stats.get(f"lo{i}"), stats.get(f"hi{i}")
        if isinstance(field.dataType, NumericType) and low is not None and high is not None:
            expectations.append(
                {
                    "type": "expect_column_values_to_be_between",
                    "column": name,
                    "minValue": float(low),
                    "maxValue": float(high),
                }
            )
        if isinstance(field.dataType, StringType):
            if distinct <= LOW_CARDINALITY and name.lower() not in hidden:
                values = sorted(
                    r[0] for r in df.select(F.col(f"`{name}`")).distinct().collect() if r[0] is not None
                )
                if len(values) <= LOW_CARDINALITY:
                    expectations.append(
                        {"type": "expect_column_values_to_be_in_set", "column": name, "valueSet": values}
                    )
            if low is not None and high is not None:
                expectations.append(
                    {
                        "type": "expect_column_value_lengths_to_be_between",
                        "column": name,
                        "minValue": int(low),
                        "maxValue": int(high),
                    }
                )
        # the distinct count is approximate (5% error): confirm a likely key exactly
        if (
            nonnull == rows
            and distinct >= rows * 0.9
            and df.select(F.col(f"`{name}`")).distinct().count() == rows
        ):
            expectations.append({"type": "expect_column_values_to_be_unique", "column": name})
    return expectations


def propose_suite(
    df: DataFrame, *, name: str, path: str, file_format: str, protected: Collection[str] = ()
) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": name},
        "spec": {
            "dataset": {"path": path, "format": file_format},
            "expectations": propose_expectations(df, protected=protected),
        },
    }
