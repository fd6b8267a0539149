"""The auto engine over the whole vocabulary: expectations the single pass does not compile (and any
with a row condition) go to Great Expectations 1.x. Explicit verdicts on clean and dirty data."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.quality.gate import validate_suite
from dataops.quality.single_pass import SUPPORTED

COLUMNS = "id long, a long, b long, total long, status string, tier string, amount double"


def _frame(spark: SparkSession, dirty: bool) -> DataFrame:
    rows = []
    for i in range(200):
        a, b = i + 10, i
        status = ["new", "paid", "shipped"][i % 3]
        rows.append((i, a, b, a + b, status, "gold" if i % 3 else "silver", float(i % 50)))
    if dirty:
        rows[5] = (5, 1, 9, 99, "lost", "gold", 5.0)  # a < b, a + b != total, unknown status
        rows[6] = (5, 16, 6, 22, "new", "gold", 6.0)  # duplicate id, duplicate (id, tier)
    return spark.createDataFrame(rows, COLUMNS)


EXPECTATIONS: list[dict[str, Any]] = [
    {"type": "expect_column_to_exist", "column": "status"},
    {"type": "expect_column_values_to_be_of_type", "column": "amount", "typeName": "DoubleType"},
    {
        "type": "expect_table_columns_to_match_set",
        "columnSet": ["id", "a", "b", "total", "status", "tier", "amount"],
    },
    {
        "type": "expect_table_columns_to_match_ordered_list",
        "columnList": ["id", "a", "b", "total", "status", "tier", "amount"],
    },
    {"type": "expect_table_column_count_to_equal", "value": 7},
    {"type": "expect_table_column_count_to_be_between", "minValue": 5, "maxValue": 9},
    {"type": "expect_column_median_to_be_between", "column": "amount", "minValue": 20, "maxValue": 30},
    {
        "type": "expect_column_quantile_values_to_be_between",
        "column": "amount",
        "quantileRanges": {"quantiles": [0.1, 0.9], "valueRanges": [[0, 10], [40, 50]]},
    },
    {
        "type": "expect_column_unique_value_count_to_be_between",
        "column": "tier",
        "minValue": 2,
        "maxValue": 2,
    },
    {"type": "expect_column_proportion_of_unique_values_to_be_between", "column": "id", "minValue": 1.0},
    {
        "type": "expect_column_distinct_values_to_be_in_set",
        "column": "status",
        "valueSet": ["new", "paid", "shipped"],
    },
    {"type": "expect_column_distinct_values_to_contain_set", "column": "tier", "valueSet": ["gold"]},
    {
        "type": "expect_column_distinct_values_to_equal_set",
        "column": "status",
        "valueSet": ["new", "paid", "shipped"],
    },
    {
        "type": "expect_column_most_common_value_to_be_in_set",
        "column": "tier",
        "valueSet": ["gold", "silver"],
    },
    {"type": "expect_compound_columns_to_be_unique", "columnList": ["id", "tier"]},
    {"type": "expect_select_column_values_to_be_unique_within_record", "columnList": ["a", "b"]},
    {"type": "expect_column_pair_values_to_be_equal", "columnA": "tier", "columnB": "tier"},
    {"type": "expect_column_pair_values_a_to_be_greater_than_b", "columnA": "a", "columnB": "b"},
    {
        "type": "expect_multicolumn_sum_to_equal",
        "columnList": ["a", "b"],
        "sumTotal": 0,
        "rowCondition": "false",
    },
    # single-pass types, so that the suite covers the vocabulary end to end through one engine call
    {"type": "expect_column_values_to_not_be_null", "column": "id"},
    {"type": "expect_column_values_to_be_unique", "column": "id"},
    {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": ["new", "paid", "shipped"]},
    {"type": "expect_column_values_to_be_between", "column": "amount", "minValue": 0, "maxValue": 49},
    {"type": "expect_column_value_lengths_to_equal", "column": "status", "value": 3, "mostly": 0.3},
    {"type": "expect_column_values_to_match_regex", "column": "tier", "regex": "^(gold|silver)$"},
    {"type": "expect_column_mean_to_be_between", "column": "amount", "minValue": 20, "maxValue": 30},
    {"type": "expect_table_row_count_to_equal", "value": 200},
]

# What the dirty frame breaks, and nothing else.
DIRTY_FAILURES = {
    "expect_column_proportion_of_unique_values_to_be_between",
    "expect_column_distinct_values_to_be_in_set",
    "expect_column_distinct_values_to_equal_set",
    "expect_compound_columns_to_be_unique",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_in_set",
}


def _suite(items: list[dict[str, Any]]) -> DataQualitySuiteSpec:
    return DataQualitySuiteSpec.model_validate({"expectations": items})


def test_the_vocabulary_validates_through_both_engines(spark: SparkSession) -> None:
    kinds = {e["type"] for e in EXPECTATIONS}
    assert len(kinds) >= 25
    assert len(kinds - SUPPORTED) >= 15  # these go to Great Expectations
    clean = validate_suite(_frame(spark, dirty=False), _suite(EXPECTATIONS))
    assert [(o.type, o.success) for o in clean.results if not o.success] == []
    assert {o.engine for o in clean.results} == {"single_pass", "great_expectations"}
    dirty = validate_suite(_frame(spark, dirty=True), _suite(EXPECTATIONS))
    assert {o.type for o in dirty.results if not o.success} == DIRTY_FAILURES
    pair = next(o for o in dirty.results if o.type == "expect_column_pair_values_a_to_be_greater_than_b")
    assert pair.unexpected_count == 1 and pair.engine == "single_pass"


def test_row_conditions_select_the_rows_that_are_checked(spark: SparkSession) -> None:
    df = _frame(spark, dirty=True)  # the lost order (id 5) has an unknown status
    checks = [
        {
            "type": "expect_column_values_to_be_in_set",
            "column": "status",
            "valueSet": ["new", "paid", "shipped"],
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "column": "status",
            "valueSet": ["new", "paid", "shipped"],
            "rowCondition": "id <> 5",
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "column": "status",
            "valueSet": ["paid"],
            "rowCondition": "id % 3 = 1",
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "column": "status",
            "valueSet": ["paid"],
            "rowCondition": "tier = 'gold'",
        },
    ]
    outcomes = validate_suite(df, _suite(checks)).results
    assert [o.success for o in outcomes] == [False, True, True, False]
    assert outcomes[0].engine == "single_pass" and outcomes[1].engine == "great_expectations"
    assert outcomes[0].unexpected_count == 1
