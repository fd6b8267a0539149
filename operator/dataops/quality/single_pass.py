"""The single-pass engine: every supported expectation of a suite in one Spark aggregation.

Column-map expectations become conditional counts and column aggregates (mean, min, max, sum,
stdev) and the row count aggregate columns of the same ``df.agg(...)``: one scan for all of them.
The row predicates (``map_predicates``) are Great Expectations 1.x's own Spark expressions, or, where
GX parses values in Python (strftime, dateutil, JSON, JSON Schema), the same Python functions in a
UDF inside that aggregation. Column pairs and column lists (pair equal, a > b, pair in set, values
unique within a record, multicolumn sum) drop the rows their ``ignoreRowIf`` ignores, as GX does.
``in_type_list`` is, on Spark, a check of the column's Spark type: no pass at all.

More passes: uniqueness groups by the column; increasing/decreasing need GX's window over the row
order (one pass each, ``second_pass``; only where that order is reproducible: no shuffle in the
DataFrame's plan, a local session or one partition; elsewhere two executions of the same plan
can see different orders, so GX answers); z-scores need the mean and stdev of the shared pass, then one
aggregation for all of them. Failed map expectations get a small sample of unexpected values: one
``limit`` query for all of them, which stops at the first rows that fill every sample (only on
failure; an expectation whose failures are much rarer than the others' is asked alone).

Left to Great Expectations: a row condition, date or parameter bounds, compound uniqueness, and
any case where GX's own answer could not be reproduced exactly: a value set or pair set whose
literals Spark would cast (under ANSI a cast can fail the job), column types GX rejects or cannot
subtract (text for increasing, non-numeric for z-scores), a regex Java rejects, an unusable strftime
format, and values on which GX's Python function raises (invalid JSON for a JSON Schema, non-text
values): their expectation is handed over after the pass, and GX reports its own error. Only
``dateutil_parseable``, which GX implements for pandas but not for Spark, stays here: its
non-text values make the expectation fail with an explanation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataops.api.v1alpha1.dataqualitysuite import Expectation, is_number
from dataops.quality import map_predicates as mp
from dataops.quality import second_pass
from dataops.quality.results import ExpectationOutcome
from dataops.quality.value_sets import with_comparable_value_set

SAMPLE_SIZE = 20
Fallback = Callable[[DataFrame, list[Expectation]], list[ExpectationOutcome]]

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
_TYPE_LIST = "expect_column_values_to_be_in_type_list"
SUPPORTED = (
    mp.COLUMN_MAP
    | mp.PAIR
    | mp.MULTICOLUMN
    | second_pass.ORDERED
    | {second_pass.Z_SCORE, _TYPE_LIST}
    | set(_AGG)
    | _NULLS
    | _TABLE
    | _UNIQUE
)


def supports(e: Expectation) -> bool:
    """Compiled here (unless the data's schema or values say otherwise): a supported type without a
    row condition, with numeric bounds (dates, times and suite parameters are compared by GX)."""
    numeric_bounds = all(b is None or is_number(b) for b in (e.min_value, e.max_value))
    return str(e.type.value) in SUPPORTED and e.row_condition is None and numeric_bounds


@dataclass
class _Planned:
    index: int
    expectation: Expectation
    check: mp.MapCheck | None = None  # map expectations: the rows counted
    outcome: ExpectationOutcome | None = None  # decided without the pass (types) or after it
    sample: list[Any] | None = None  # unexpected values found by the shared sample query


def _plan(e: Expectation, schema: T.StructType, stable: Callable[[], bool]) -> mp.MapCheck | bool:
    """The compiled check of a map expectation, True for other compiled kinds, False: hand over."""
    kind = str(e.type.value)
    if kind in _NULLS:
        column = mp.col(e.column or "")
        return mp.MapCheck(
            column.isNull() if kind == "expect_column_values_to_not_be_null" else column.isNotNull(),
            considered=F.lit(True),
        )
    if kind in mp.COLUMN_MAP:
        return mp.column_check(e, schema) or False
    if kind in mp.PAIR:
        return mp.pair_check(e, schema) or False
    if kind in mp.MULTICOLUMN:
        return mp.multicolumn_check(e, schema) or False
    if kind in second_pass.ORDERED:
        return second_pass.supports_order(e, schema) and stable()
    if kind == second_pass.Z_SCORE:
        return second_pass.supports_z_score(e, schema)
    if kind == _TYPE_LIST:
        return _type_list_outcome(e, schema) is not None
    return True


def validate(
    df: DataFrame, expectations: list[Expectation], *, fallback: Fallback | None = None
) -> list[ExpectationOutcome]:
    schema = df.schema  # each read of df.schema asks the JVM and parses its JSON again
    expectations = [with_comparable_value_set(schema, e) for e in expectations]
    planned: list[_Planned] = []
    rest: list[int] = []
    order: list[bool] = []

    def stable() -> bool:  # asked once, only for increasing/decreasing
        if not order:
            order.append(second_pass.stable_order(df))
        return order[0]

    for i, e in enumerate(expectations):
        compiled = _plan(e, schema, stable) if supports(e) else False
        if compiled is False:
            rest.append(i)
        else:
            planned.append(_Planned(i, e, compiled if isinstance(compiled, mp.MapCheck) else None))
    row = df.agg(*_aggregates(planned)).first()  # the single pass
    assert row is not None
    total = int(row["__rows"])
    _z_scores(df, planned, row)
    _samples_together(df, [p for p in planned if _wants_sample(p, row)], row)
    outcomes: dict[int, ExpectationOutcome] = {}
    for p in planned:
        if p.check is not None and p.check.raises is not None and row[f"r{p.index}"]:
            if str(p.expectation.type.value) not in mp.NO_SPARK_IN_GX:
                rest.append(p.index)  # GX's own function raises on these values: GX answers
                continue
            p.outcome = _raised(p.expectation, int(row[f"r{p.index}"]))
        outcomes[p.index] = p.outcome or _assemble(df, p, row, total)
    if rest:
        if fallback is None:
            from dataops.quality.gx_engine import validate as gx_validate

            fallback = gx_validate
        rest.sort()
        for index, outcome in zip(rest, fallback(df, [expectations[i] for i in rest]), strict=True):
            outcomes[index] = outcome
    return [outcomes[i] for i in range(len(expectations))]


def _aggregates(planned: list[_Planned]) -> list[Column]:
    aggregates: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for p in planned:
        kind, e, i = str(p.expectation.type.value), p.expectation, p.index
        column = mp.col(e.column or "")
        if p.check is not None:
            aggregates.append(F.count_if(p.check.unexpected).alias(f"u{i}"))
            considered = p.check.considered
            counted = F.count(column) if considered is None else F.count_if(considered)
            aggregates.append(counted.alias(f"n{i}"))
            if p.check.raises is not None:
                aggregates.append(F.count_if(p.check.raises).alias(f"r{i}"))
        elif kind in _AGG:
            aggregates.append(_AGG[kind](column).alias(f"v{i}"))
        elif kind in second_pass.ORDERED:
            aggregates.append(F.count(column).alias(f"n{i}"))
        elif kind == second_pass.Z_SCORE:
            aggregates += [F.count(column).alias(f"n{i}"), F.mean(column).alias(f"m{i}")]
            aggregates.append(F.stddev_samp(column).alias(f"s{i}"))
    return aggregates


def _z_scores(df: DataFrame, planned: list[_Planned], row: Any) -> None:
    """The z-score expectations' counts: one more aggregation for all of them."""
    counts: list[Column] = []
    for p in planned:
        if str(p.expectation.type.value) == second_pass.Z_SCORE:
            bad = second_pass.z_score_unexpected(p.expectation, row[f"m{p.index}"], row[f"s{p.index}"])
            p.check = mp.MapCheck(F.lit(False) if bad is None else bad)
            counts.append(F.count_if(p.check.unexpected).alias(f"u{p.index}"))
    second = df.agg(*counts).first() if counts else None
    for p in planned:
        if str(p.expectation.type.value) == second_pass.Z_SCORE and second is not None:
            p.outcome = _map_outcome(
                df, p, int(second[f"u{p.index}"] or 0), int(row[f"n{p.index}"]), int(row["__rows"])
            )


def _outcome(e: Expectation, *, success: bool, **fields: Any) -> ExpectationOutcome:
    return ExpectationOutcome(
        type=str(e.type.value),
        column=e.column,
        severity=e.severity.value,
        engine="single_pass",
        success=success,
        **fields,
    )


def _raised(e: Expectation, values: int) -> ExpectationOutcome:
    return _outcome(
        e, success=False, observed_value=f"error: {values} values are not text that can be parsed"
    )


def _type_list_outcome(e: Expectation, schema: T.StructType) -> ExpectationOutcome | None:
    """GX on Spark checks the column's type against pyspark.sql.types classes named in the list."""
    if (e.column or "") not in schema.fieldNames():
        return None
    data_type = schema[e.column or ""].dataType
    observed = type(data_type).__name__
    if e.type_list is None:
        return _outcome(e, success=True, observed_value=observed)
    classes = [getattr(T, name) for name in e.type_list if hasattr(T, name)]
    try:
        success = bool(classes) and isinstance(data_type, tuple(classes))
    except TypeError:  # a name of pyspark.sql.types that is not a class: GX raises
        return None
    return _outcome(e, success=success, observed_value=observed) if classes else None


def _in_bounds(value: Any, e: Expectation) -> bool:
    if value is None:
        return False
    if e.min_value is not None and (value <= e.min_value if e.strict_min else value < e.min_value):
        return False
    return not (e.max_value is not None and (value >= e.max_value if e.strict_max else value > e.max_value))


def _mostly(considered: int, unexpected: int, mostly: float) -> bool:
    if considered == 0:
        return True
    return (float(considered) - float(unexpected)) / float(considered) >= mostly


def _wants_sample(p: _Planned, row: Any) -> bool:
    """A failing map expectation of the pass whose sample is read from rows (see _sample)."""
    kind = str(p.expectation.type.value)
    if p.check is None or p.outcome is not None or kind in _NO_SAMPLE or kind in second_pass.ORDERED:
        return False
    if kind == "expect_column_values_to_not_be_null":
        return False
    if p.check.raises is not None and row[f"r{p.index}"]:
        return False
    return bool(row[f"u{p.index}"])


def _samples_together(df: DataFrame, failing: list[_Planned], row: Any) -> None:
    """The unexpected samples of every failing map expectation from one query that stops early:
    the first rows where any of them fails, each giving the values of those that fail on it. An
    expectation gets the same values its own ``limit`` query would (the first of its unexpected rows
    in scan order); only one whose quota the shared rows did not fill is asked again on its own
    (its failures are rarer than the others' and come later)."""
    if len(failing) < 2:
        return  # one expectation: its own limit query is the same query
    columns = []
    for p in failing:
        assert p.check is not None
        names = p.check.sample or [p.expectation.column or ""]
        columns.append(F.when(p.check.unexpected, F.struct(*[mp.col(n) for n in names])).alias(f"s{p.index}"))
    any_fails = functools.reduce(lambda a, b: a | b, [p.check.unexpected for p in failing if p.check])
    budget = SAMPLE_SIZE * len(failing)
    rows = df.where(any_fails).select(*columns).limit(budget).collect()
    for p in failing:
        assert p.check is not None
        found = [r[f"s{p.index}"] for r in rows if r[f"s{p.index}"] is not None][:SAMPLE_SIZE]
        wanted = min(SAMPLE_SIZE, int(row[f"u{p.index}"]))
        if len(found) < wanted and len(rows) == budget:
            continue  # the shared rows ran out first: _sample asks on its own
        p.sample = [tuple(v) if p.check.sample else v[0] for v in found]


def _sample(df: DataFrame, p: _Planned) -> list[Any]:
    if p.sample is not None:
        return p.sample
    e, check = p.expectation, p.check
    kind = str(e.type.value)
    if kind in _NO_SAMPLE:
        return []
    if kind in second_pass.ORDERED:
        rows = second_pass.out_of_order_rows(df, e).select(mp.col(e.column or "")).limit(SAMPLE_SIZE)
        return [r[0] for r in rows.collect()]
    assert check is not None
    if check.sample:
        rows = df.where(check.unexpected).select(*[mp.col(n) for n in check.sample]).limit(SAMPLE_SIZE)
        return [tuple(r) for r in rows.collect()]
    if kind == "expect_column_values_to_not_be_null":
        return [None] * SAMPLE_SIZE
    rows = df.where(check.unexpected).select(mp.col(e.column or "")).limit(SAMPLE_SIZE)
    return [r[0] for r in rows.collect()]


def _map_outcome(
    df: DataFrame, p: _Planned, unexpected: int, considered: int, total: int
) -> ExpectationOutcome:
    sample = _sample(df, p)[:unexpected] if unexpected else []
    return _outcome(
        p.expectation,
        success=total == 0 or _mostly(considered, unexpected, p.expectation.mostly),
        element_count=total,
        unexpected_count=unexpected,
        unexpected_percent=100.0 * unexpected / considered if considered and total else None,
        unexpected_sample=sample,
    )


def _assemble(df: DataFrame, p: _Planned, row: Any, total: int) -> ExpectationOutcome:
    e = p.expectation
    kind = str(e.type.value)
    if p.check is not None:
        return _map_outcome(df, p, int(row[f"u{p.index}"] or 0), int(row[f"n{p.index}"] or 0), total)
    if kind in second_pass.ORDERED:
        unexpected = second_pass.out_of_order_rows(df, e).count()  # the window pass
        return _map_outcome(df, p, unexpected, int(row[f"n{p.index}"]), total)
    if kind == _TYPE_LIST:
        outcome = _type_list_outcome(e, df.schema)
        assert outcome is not None
        return outcome
    if kind in _AGG:
        value = row[f"v{p.index}"]
        return _outcome(e, success=_in_bounds(value, e), observed_value=value)
    if kind in _TABLE:
        success = total == e.value if kind == "expect_table_row_count_to_equal" else _in_bounds(total, e)
        return _outcome(e, success=success, observed_value=total)
    return _unique(df, e, total)


def _unique(df: DataFrame, e: Expectation, total: int) -> ExpectationOutcome:
    """Uniqueness: one grouping pass for the column."""
    column = mp.col(e.column or "")
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
