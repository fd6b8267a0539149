"""Column-map expectations that need more than the shared aggregation, as Great Expectations 1.x
computes them on Spark.

* increasing / decreasing compare each value with the previous row's. Great Expectations uses a
  window over the whole DataFrame ordered by a constant (``lag`` over ``orderBy(lit("constant"))``):
  the order is the order in which the rows reach that single window partition. This module builds
  the very same plan (the same null/NaN filter, the same difference, the same window), one pass per
  expectation, so both engines see the same order, but only where that order is reproducible: a
  plan without a shuffle (a file scan, a local relation) on a local session or in one partition.
  After a shuffle (or across executors) the order depends on which shuffle block arrives first and
  two executions of one plan can see different orders (on a repartitioned DataFrame the two
  engines' counts differed in the tests): those go to GX.
* z-scores need the column's mean and sample standard deviation first: those are aggregates of the
  shared pass, then one more aggregation counts every z-score expectation of the suite at once.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.quality.map_predicates import col

ORDERED = {"expect_column_values_to_be_increasing", "expect_column_values_to_be_decreasing"}
Z_SCORE = "expect_column_value_z_scores_to_be_less_than"

# Great Expectations drops nulls and NaNs of these types only (before the window).
_FILTERED = (T.IntegerType, T.LongType, T.DoubleType)
_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_DATES = (T.DateType, T.TimestampType)
# Types Great Expectations' mean accepts on Spark (the exact classes, not subclasses).
_MEAN_TYPES = (T.DecimalType, T.IntegerType, T.DoubleType, T.FloatType, T.LongType)


def _orderable(data_type: T.DataType) -> bool:
    """Types whose difference Spark computes without failing (texts and booleans fail under ANSI)."""
    if isinstance(data_type, T.DecimalType):
        return data_type.precision < 38  # the difference of two DECIMAL(38) values can overflow
    return isinstance(data_type, (*_INTEGRAL, T.FloatType, T.DoubleType, *_DATES))


def supports_order(e: Expectation, schema: T.StructType) -> bool:
    return (e.column or "") in schema.fieldNames() and _orderable(schema[e.column or ""].dataType)


def stable_order(df: DataFrame) -> bool:
    """Whether every execution of ``df`` hands the rows to GX's window in the same order."""
    try:
        plan = str(df._jdf.queryExecution().executedPlan().toString())
        master = str(df.sparkSession.sparkContext.master)
    except Exception:  # Spark Connect: no plan to inspect
        return False
    if "Exchange" in plan:
        return False
    return master.startswith("local") or df.rdd.getNumPartitions() == 1


def supports_z_score(e: Expectation, schema: T.StructType) -> bool:
    name = e.column or ""
    return (
        name in schema.fieldNames()
        and type(schema[name].dataType) in _MEAN_TYPES
        and e.threshold is not None
        and e.double_sided is not None
    )


def _out_of_order(e: Expectation, data_type: T.DataType) -> Column:
    """Great Expectations' unexpected condition (the same expression, so the same plan)."""
    increasing = str(e.type.value) == "expect_column_values_to_be_increasing"
    column = col(e.column or "")
    window = Window.orderBy(F.lit("constant"))
    if isinstance(data_type, _DATES):
        diff = F.datediff(column, F.lag(column).over(window))
    else:
        value = column.cast(T.DecimalType(38, 0)) if isinstance(data_type, _INTEGRAL) else column
        diff = value - F.lag(value).over(window)
        diff = F.when(diff.isNull(), 1 if increasing else -1).otherwise(diff)
    if increasing:
        bad = diff <= 0 if e.strictly is True else diff < 0
    else:
        bad = diff >= 0 if e.strictly else diff > 0
    return F.when(bad, F.lit(True)).otherwise(F.lit(False))


def out_of_order_rows(df: DataFrame, e: Expectation) -> DataFrame:
    """The rows Great Expectations counts as unexpected (the second pass: a window)."""
    data_type = df.schema[e.column or ""].dataType
    domain = df
    if isinstance(data_type, _FILTERED):
        name = f"`{e.column}`"
        domain = df.filter(F.expr(f"{name} IS NOT NULL AND NOT isnan({name})"))
    marked = domain.withColumn("__unexpected", _out_of_order(e, data_type))
    return marked.filter(F.col("__unexpected") == True).drop("__unexpected")  # noqa: E712


def z_score_unexpected(e: Expectation, mean: Any, stdev: Any) -> Column | None:
    """Rows whose z-score is not under the threshold; None when Great Expectations has no z-score
    (a standard deviation of zero or none: every value counts as expected)."""
    if stdev is None or stdev == 0:
        return None
    column = col(e.column or "")
    z_score = (column - mean) / stdev
    threshold: float = e.threshold or 0.0
    if e.double_sided:
        threshold = abs(threshold)
        z_score = F.abs(z_score)
    unexpected: Column = column.isNotNull() & ~(z_score < threshold)
    return unexpected
