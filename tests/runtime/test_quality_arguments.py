"""Arguments Great Expectations accepts that the suite API once refused or changed: bounds that are
dates, times or suite parameters, value sets of mixed JSON scalars (kept as written), open quantile
ranges, columnIndex, tiesOkay. Each case has a hand-computed answer, and both engines must give it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.datapipeline import QualityGate
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec, Expectation
from dataops.quality import gx_engine, single_pass
from dataops.quality.gate import SuiteArgumentError, SuiteGateRunner, validate_suite
from dataops.runtime.errors import QualityGateFailed

NOW = datetime.now()


@pytest.fixture(scope="module")
def data(spark: SparkSession) -> DataFrame:
    rows = [
        (datetime(1999, 12, 31, 12), 1.5, "a", 1, True, "1"),
        (datetime(2000, 3, 1), 2.5, "b", 2, False, "2"),
        (NOW - timedelta(days=3), 4.0, "b", 2, True, "x"),
        (None, None, None, 3, None, None),
    ]
    return spark.createDataFrame(rows, "ts timestamp, x double, s string, k int, flag boolean, code string")


# (expectation, success, unexpected count or None for aggregate expectations)
CASES: list[tuple[dict[str, Any], bool, int | None]] = [
    # -- dates, times and suite parameters as bounds ------------------------------------------------
    (
        {"type": "expect_column_values_to_be_between", "column": "ts", "maxValue": {"$PARAMETER": "now()"}},
        True,
        0,
    ),
    (
        {"type": "expect_column_values_to_be_between", "column": "ts", "minValue": {"$PARAMETER": "now()"}},
        False,
        3,
    ),
    (
        {
            "type": "expect_column_values_to_be_between",
            "column": "ts",
            "minValue": {"$PARAMETER": "now() - timedelta(days=7)"},
        },
        False,
        2,
    ),
    (
        {
            "type": "expect_column_values_to_be_between",
            "column": "ts",
            "minValue": {"$PARAMETER": "now() - timedelta(weeks=52*100)"},
        },
        True,
        0,
    ),
    ({"type": "expect_column_values_to_be_between", "column": "ts", "minValue": "2000-01-01"}, False, 1),
    (
        {
            "type": "expect_column_values_to_be_between",
            "column": "ts",
            "minValue": "1999-01-01",
            "maxValue": "2000-12-31T00:00:00",
            "mostly": 0.6,
        },
        True,
        1,
    ),
    ({"type": "expect_column_max_to_be_between", "column": "ts", "minValue": "2020-01-01"}, True, None),
    ({"type": "expect_column_min_to_be_between", "column": "ts", "minValue": "2000-01-01"}, False, None),
    # -- value sets keep their members' JSON types --------------------------------------------------
    ({"type": "expect_column_values_to_be_in_set", "column": "x", "valueSet": [1.5, 2.5, 4.0]}, True, 0),
    ({"type": "expect_column_values_to_be_in_set", "column": "x", "valueSet": [1.5, None]}, False, 2),
    ({"type": "expect_column_values_to_be_in_set", "column": "x", "valueSet": [None]}, False, 3),
    ({"type": "expect_column_values_to_be_in_set", "column": "k", "valueSet": [True, 2.0, 3]}, False, 1),
    ({"type": "expect_column_values_to_be_in_set", "column": "k", "valueSet": [1, 2.0, 3.0]}, True, 0),
    ({"type": "expect_column_values_to_be_in_set", "column": "code", "valueSet": [1, 2, "x"]}, False, 2),
    ({"type": "expect_column_values_to_be_in_set", "column": "flag", "valueSet": [1, 0]}, False, 3),
    ({"type": "expect_column_values_to_be_in_set", "column": "flag", "valueSet": [True, False]}, True, 0),
    (
        {"type": "expect_column_values_to_not_be_in_set", "column": "k", "valueSet": [True, None, 1.0]},
        False,
        1,
    ),
    ({"type": "expect_column_values_to_not_be_in_set", "column": "s", "valueSet": [None, 1]}, True, 0),
    # -- open quantile ranges, column positions, ties -------------------------------------------------
    (
        {
            "type": "expect_column_quantile_values_to_be_between",
            "column": "k",
            "quantileRanges": {"quantiles": [0.0, 1.0], "valueRanges": [[None, 1], [3, None]]},
        },
        True,
        None,
    ),
    (
        {
            "type": "expect_column_quantile_values_to_be_between",
            "column": "k",
            "quantileRanges": {"quantiles": [1.0], "valueRanges": [[None, 2]]},
        },
        False,
        None,
    ),
    ({"type": "expect_column_to_exist", "column": "s", "columnIndex": 2}, True, None),
    ({"type": "expect_column_to_exist", "column": "s", "columnIndex": 1}, False, None),
    ({"type": "expect_column_most_common_value_to_be_in_set", "column": "k", "valueSet": [2]}, True, None),
    ({"type": "expect_column_most_common_value_to_be_in_set", "column": "s", "valueSet": ["b"]}, True, None),
    (
        {
            "type": "expect_column_most_common_value_to_be_in_set",
            "column": "flag",
            "valueSet": [True],
            "tiesOkay": True,
        },
        True,
        None,
    ),
    # "1", "2" and "x" are equally common: a tie with values outside the set passes only with tiesOkay
    (
        {"type": "expect_column_most_common_value_to_be_in_set", "column": "code", "valueSet": ["x"]},
        False,
        None,
    ),
    (
        {
            "type": "expect_column_most_common_value_to_be_in_set",
            "column": "code",
            "valueSet": ["x"],
            "tiesOkay": True,
        },
        True,
        None,
    ),
]


@pytest.mark.parametrize(
    ("raw", "success", "unexpected"), CASES, ids=[f"{i}-{c[0]['type'][7:]}" for i, c in enumerate(CASES)]
)
@pytest.mark.parametrize("engine", ["single_pass", "great_expectations"])
def test_both_engines_give_the_known_answer(
    data: DataFrame, raw: dict[str, Any], success: bool, unexpected: int | None, engine: str
) -> None:
    expectation = Expectation.model_validate(raw)
    validate = single_pass.validate if engine == "single_pass" else gx_engine.validate
    (outcome,) = validate(data, [expectation])
    assert outcome.success is success, outcome
    if unexpected is not None:
        assert outcome.unexpected_count == unexpected, outcome


def test_mixed_value_sets_stay_in_the_single_pass(data: DataFrame) -> None:
    expectation = Expectation.model_validate(
        {"type": "expect_column_values_to_be_in_set", "column": "k", "valueSet": [True, 2.0, None, "3"]}
    )
    (outcome,) = single_pass.validate(data, [expectation])
    assert outcome.engine == "single_pass"
    assert (outcome.success, outcome.unexpected_count) == (False, 2)  # 1 and 3; 2.0 equals 2


BAD_ARGUMENTS = [
    ({"type": "expect_column_values_to_be_between", "column": "k", "minValue": 5, "maxValue": 1}, "minValue"),
    ({"type": "expect_column_values_to_be_between", "column": "k", "minValue": True}, "minValue"),
    ({"type": "expect_column_values_to_be_between", "column": "k", "maxValue": {"now": "()"}}, "maxValue"),
    ({"type": "expect_column_values_to_be_between", "column": "k"}, "minValue"),
    ({"type": "expect_column_values_to_be_in_set", "column": "k"}, "valueSet"),
    ({"type": "expect_column_values_to_be_in_set", "column": "k", "valueSet": [[1]]}, "valueSet"),
    ({"type": "expect_column_values_to_be_unique", "column": "k", "valueSet": [1]}, "valueSet"),
]


@pytest.mark.parametrize(("raw", "argument"), BAD_ARGUMENTS)
def test_a_wrong_free_form_argument_fails_the_suite_in_one_line(
    data: DataFrame, raw: dict[str, Any], argument: str
) -> None:
    """What the admission policy refuses at the API server, for suites stored before it or read from files."""
    suite = DataQualitySuiteSpec.model_validate(
        {"expectations": [{"type": "expect_table_row_count_to_be_between", "minValue": 0}, raw]}
    )
    with pytest.raises(SuiteArgumentError) as caught:
        validate_suite(data, suite)
    assert str(caught.value).startswith(f"expectations[1].{argument}: ")
    assert "\n" not in str(caught.value)
    gate = QualityGate.model_validate({"suiteRef": {"name": "s"}, "dataset": "orders"})
    with pytest.raises(QualityGateFailed, match=rf"expectations\[1\]\.{argument}: "):
        SuiteGateRunner({"s": suite})(gate, "orders", data)
