"""The single-pass engine: every supported expectation of a suite in one Spark aggregation.

Column-map expectations (nulls, ranges, sets, regexes, lengths) become conditional counts,
column aggregates (mean, min, max, sum, stdev) and the row count become aggregate columns of the
same ``df.agg(...)``: one scan for all of them. Uniqueness needs a grouping, one per column.
Failed map expectations get a small sample of unexpected values (a ``limit`` query, only on
failure). Expectations it does not compile (or with a row condition) go to Great Expectations.
The verdict rules follow Great Expectations: nulls are not counted for value expectations except
the null checks themselves, and ``mostly`` is the fraction of considered rows that must pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapolicy import PiiClassification
from dataops.api.v1alpha1.dataqualitysuite import Expectation, is_number
from dataops.quality.pii import looks_like_pii
from dataops.quality.results import ExpectationOutcome
from dataops.quality.value_sets import with_comparable_value_set

SAMPLE_SIZE = 20
Fallback = Callable[[DataFrame, list[Expectation]], list[ExpectationOutcome]]


def _between(value: Column, e: Expectation) -> Column:
    """Rows inside the bounds (GE semantics: inclusive unless strict)."""
    inside = F.lit(True)
    if e.min_value is not None:
        inside = inside & (value > e.min_value if e.strict_min else value >= e.min_value)
    if e.max_value is not None:
        inside = inside & (value < e.max_value if e.strict_max else value <= e.max_value)
    return inside


def _members(e: Expectation) -> list[Any]:
    return [v for v in e.value_set or [] if v is not None]


# Column-map expectations: the predicate of an *unexpected* (non-null) value.
_MAP: dict[str, Callable[[Column, Expectation], Column]] = {
    "expect_column_values_to_be_between": lambda c, e: ~_between(c, e),
    # a null member matches no (non-null) value; left in, `isin` would answer null for every value
    "expect_column_values_to_be_in_set": lambda c, e: ~c.isin(_members(e)),
    "expect_column_values_to_not_be_in_set": lambda c, e: c.isin(_members(e)),
    "expect_column_values_to_match_regex": lambda c, e: ~c.rlike(e.regex or ""),
    "expect_column_values_to_not_match_regex": lambda c, e: c.rlike(e.regex or ""),
    "expect_column_value_lengths_to_be_between": lambda c, e: ~_between(F.length(c), e),
    "expect_column_value_lengths_to_equal": lambda c, e: F.length(c) != F.lit(e.value),
    "expect_column_values_to_not_contain_pii": lambda c, e: looks_like_pii(
        c, [PiiClassification(k.value) for k in e.classifications] if e.classifications else None
    ),
}
_NO_SAMPLE = {"expect_column_values_to_not_contain_pii"}  # never report personal data values
_AGG: dict[str, Callable[[Column], Column]] = {
    "expect_column_mean_to_be_between": F.mean,
    "expect_column_min_to_be_between": F.min,
    "expect_column_max_to_be_between": F.max,
    "expect_column_sum_to_be_between": F.sum,
    "expect_column_stdev_to_be_between": F.stddev_samp,
}
_NULLS = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"}
_TABLE = {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}
_UNIQUE = {"expect_column_values_to_be_unique"}
SUPPORTED = set(_MAP) | set(_AGG) | _NULLS | _TABLE | _UNIQUE


def supports(e: Expectation) -> bool:
    """Compiled here: a supported type without a row condition, with numeric bounds (dates, times and
    suite parameters are compared by Great Expectations)."""
    numeric_bounds = all(b is None or is_number(b) for b in (e.min_value, e.max_value))
    return str(e.type.value) in SUPPORTED and e.row_condition is None and numeric_bounds


@dataclass
class _Planned:
    index: int
    expectation: Expectation
    unexpected: Column | None = None  # for map and null checks: rows counted as unexpected


def _in_bounds(value: Any, e: Expectation) -> bool:
    if value is None:
        return False
    if e.min_value is not None and (value <= e.min_value if e.strict_min else value < e.min_value):
        return False
    return not (e.max_value is not None and (value >= e.max_value if e.strict_max else value > e.max_value))


def _mostly(considered: int, unexpected: int, mostly: float) -> bool:
    if considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly


def validate(
    df: DataFrame, expectations: list[Expectation], *, fallback: Fallback | None = None
) -> list[ExpectationOutcome]:
    expectations = [with_comparable_value_set(df.schema, e) for e in expectations]
    planned = [_Planned(i, e) for i, e in enumerate(expectations) if supports(e)]
    rest = [(i, e) for i, e in enumerate(expectations) if not supports(e)]
    aggregates: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for p in planned:
        kind, e = str(p.expectation.type.value), p.expectation
        if kind in _MAP or kind in _NULLS:
            column = F.col(f"`{e.column}`")
            if kind == "expect_column_values_to_not_be_null":
                p.unexpected = column.isNull()
            elif kind == "expect_column_values_to_be_null":
                p.unexpected = column.isNotNull()
            else:
                p.unexpected = column.isNotNull() & _MAP[kind](column, e)
            aggregates.append(F.sum(F.when(p.unexpected, 1).otherwise(0)).alias(f"u{p.index}"))
            aggregates.append(F.count(column).alias(f"n{p.index}"))
        elif kind in _AGG:
            aggregates.append(_AGG[kind](F.col(f"`{e.column}`")).alias(f"v{p.index}"))
    row = df.agg(*aggregates).first()  # the single pass
    assert row is not None
    total = int(row["__rows"])
    outcomes: dict[int, ExpectationOutcome] = {}
    for p in planned:
        outcomes[p.index] = _assemble(df, p, row, total)
    if rest:
        if fallback is None:
            from dataops.quality.gx_engine import validate as gx_validate

            fallback = gx_validate
        for (index, _), outcome in zip(rest, fallback(df, [e for _, e in rest]), strict=True):
            outcomes[index] = outcome
    return [outcomes[i] for i in range(len(expectations))]


def _outcome(e: Expectation, *, success: bool, **fields: Any) -> ExpectationOutcome:
    return ExpectationOutcome(
        type=str(e.type.value),
        column=e.column,
        severity=e.severity.value,
        engine="single_pass",
        success=success,
        **fields,
    )


def _assemble(df: DataFrame, p: _Planned, row: Any, total: int) -> ExpectationOutcome:
    e = p.expectation
    kind = str(e.type.value)
    if p.unexpected is not None:
        unexpected = int(row[f"u{p.index}"] or 0)
        considered = total if kind in _NULLS else int(row[f"n{p.index}"])
        success = _mostly(considered, unexpected, e.mostly)
        sample: list[Any] = []
        if kind in _NO_SAMPLE:
            sample = []
        elif unexpected and kind != "expect_column_values_to_not_be_null":
            sample = [
                r[0] for r in df.where(p.unexpected).select(f"`{e.column}`").limit(SAMPLE_SIZE).collect()
            ]
        elif unexpected:
            sample = [None] * min(unexpected, SAMPLE_SIZE)
        return _outcome(
            e,
            success=success,
            element_count=total,
            unexpected_count=unexpected,
            unexpected_percent=100.0 * unexpected / considered if considered else None,
            unexpected_sample=sample,
        )
    if kind in _AGG:
        value = row[f"v{p.index}"]
        return _outcome(e, success=_in_bounds(value, e), observed_value=value)
    if kind in _TABLE:
        success = total == e.value if kind == "expect_table_row_count_to_equal" else _in_bounds(total, e)
        return _outcome(e, success=success, observed_value=total)
    # uniqueness: one grouping pass for the column
    column = F.col(f"`{e.column}`")
    duplicates = df.where(column.isNotNull()).groupBy(column).count().where(F.col("count") > 1)
    stats = duplicates.agg(F.sum("count").alias("rows"), F.count(F.lit(1)).alias("values")).first()
    unexpected = int(stats["rows"] or 0) if stats else 0
    considered = df.where(column.isNotNull()).count() if unexpected else total
    sample = [r[0] for r in duplicates.select(column).limit(SAMPLE_SIZE).collect()] if unexpected else []
    return _outcome(
        e,
        success=_mostly(considered, unexpected, e.mostly),
        element_count=total,
        unexpected_count=unexpected,
        unexpected_percent=100.0 * unexpected / considered if considered else None,
        unexpected_sample=sample,
    )
