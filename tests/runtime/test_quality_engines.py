"""Differential tests: the single-pass engine and Great Expectations 1.x give the same verdicts and
observed values on the same data, clean and dirty."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.api.v1alpha1.expectations import NATIVE_ONLY
from dataops.quality import gx_engine, single_pass
from dataops.quality.results import ExpectationOutcome

SUITE: list[dict[str, Any]] = [
    {"type": "expect_column_values_to_not_be_null", "column": "id"},
    {"type": "expect_column_values_to_not_be_null", "column": "email", "mostly": 0.9},
    {"type": "expect_column_values_to_be_null", "column": "deleted_at"},
    {"type": "expect_column_values_to_be_between", "column": "amount", "minValue": 0, "maxValue": 1000},
    {
        "type": "expect_column_values_to_be_between",
        "column": "amount",
        "minValue": 0,
        "maxValue": 1000,
        "strictMin": True,
        "mostly": 0.95,
    },
    {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": ["new", "paid", "shipped"]},
    {"type": "expect_column_values_to_not_be_in_set", "column": "status", "valueSet": ["fraud"]},
    {"type": "expect_column_values_to_match_regex", "column": "email", "regex": "^[^@]+@[^@]+\\.[a-z]+$"},
    {"type": "expect_column_values_to_not_match_regex", "column": "email", "regex": "test"},
    {"type": "expect_column_value_lengths_to_be_between", "column": "country", "minValue": 2, "maxValue": 2},
    {"type": "expect_column_value_lengths_to_equal", "column": "country", "value": 2},
    {"type": "expect_column_values_to_be_unique", "column": "id"},
    {"type": "expect_table_row_count_to_be_between", "minValue": 100, "maxValue": 5000},
    {"type": "expect_table_row_count_to_equal", "value": 2000},
    {"type": "expect_column_mean_to_be_between", "column": "amount", "minValue": 100, "maxValue": 600},
    {"type": "expect_column_min_to_be_between", "column": "amount", "minValue": 0},
    {"type": "expect_column_max_to_be_between", "column": "amount", "maxValue": 1000},
    {"type": "expect_column_sum_to_be_between", "column": "amount", "minValue": 0, "maxValue": 10_000_000},
    {"type": "expect_column_stdev_to_be_between", "column": "amount", "minValue": 1, "maxValue": 1000},
]


def _rows(dirty: bool) -> list[tuple[Any, ...]]:
    rng = random.Random(7 if dirty else 3)
    rows = []
    for i in range(2000):
        amount: float | None = round(rng.uniform(1, 999), 2)
        email: str | None = f"user{i}@example.com"
        status = rng.choice(["new", "paid", "shipped"])
        country = rng.choice(["DE", "FR", "US"])
        identifier: int | None = i
        deleted_at = None
        if dirty:
            if i % 97 == 0:
                amount = None
            if i % 89 == 0:
                amount = -5.0 if i % 2 else 4000.0
            if i % 53 == 0:
                email = None
            if i % 71 == 0:
                email = "not-an-email" if i % 2 else "test@example.com"
            if i % 101 == 0:
                status = "fraud" if i % 2 else "unknown"
            if i % 67 == 0:
                country = "Germany"
            if i % 113 == 0:
                identifier = i - 1  # duplicates
            if i % 151 == 0:
                identifier = None
            if i % 191 == 0:
                deleted_at = "2026-01-01"
        rows.append((identifier, amount, email, status, country, deleted_at))
    return rows


@pytest.fixture(params=["clean", "dirty"])
def df(request: pytest.FixtureRequest, spark: SparkSession) -> DataFrame:
    schema = "id int, amount double, email string, status string, country string, deleted_at string"
    return spark.createDataFrame(_rows(request.param == "dirty"), schema)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return (
            a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        )
    return bool(a == b)


def _assert_agree(
    expectations: list[Expectation], ours: list[ExpectationOutcome], theirs: list[ExpectationOutcome]
) -> None:
    for e, a, b in zip(expectations, ours, theirs, strict=True):
        label = f"{e.type.value}({e.column}) if {e.row_condition}"
        assert a.engine == "single_pass" and b.engine == "great_expectations"
        assert a.success == b.success, label
        assert _same(a.observed_value, b.observed_value), (label, a.observed_value, b.observed_value)
        if b.unexpected_count is not None:
            assert a.unexpected_count == b.unexpected_count, (label, a.unexpected_count, b.unexpected_count)
            assert a.element_count == b.element_count, label
            assert _same(a.unexpected_percent, b.unexpected_percent), (
                label,
                a.unexpected_percent,
                b.unexpected_percent,
            )
            if a.unexpected_count:
                assert a.unexpected_sample, label


def test_engines_agree(df: DataFrame) -> None:
    expectations = [Expectation.model_validate(e) for e in SUITE]
    assert all(single_pass.supports(e) for e in expectations)
    # the basic types it compiles (test_quality_vocabulary.py covers the rest; the PII check is its own)
    assert {str(e.type.value) for e in expectations} <= single_pass.SUPPORTED - NATIVE_ONLY
    _assert_agree(expectations, single_pass.validate(df, expectations), gx_engine.validate(df, expectations))


CONDITION = "status <> 'fraud' AND country <> 'Germany'"


def test_row_conditions_agree_with_the_single_pass_on_the_selected_rows(spark: SparkSession) -> None:
    """Great Expectations with a row condition (Spark condition parser) == the single pass over the
    rows the condition selects, for every expectation type the single pass compiles."""
    schema = "id int, amount double, email string, status string, country string, deleted_at string"
    dirty = spark.createDataFrame(_rows(True), schema)
    plain = [Expectation.model_validate(e) for e in SUITE]
    conditioned = [Expectation.model_validate({**e, "rowCondition": CONDITION}) for e in SUITE]
    assert not any(single_pass.supports(e) for e in conditioned)  # a row condition goes to GX
    auto = single_pass.validate(dirty, conditioned)
    assert {o.engine for o in auto} == {"great_expectations"}
    _assert_agree(plain, single_pass.validate(dirty.where(CONDITION), plain), auto)
    verdicts = {(o.type, o.column): o.success for o in auto}
    # the bad statuses and country names are exactly what the condition leaves out
    assert verdicts[("expect_column_values_to_not_be_in_set", "status")] is True
    assert verdicts[("expect_column_value_lengths_to_equal", "country")] is True
    assert verdicts[("expect_column_values_to_be_unique", "id")] is False  # duplicates are elsewhere
    whole = {(o.type, o.column): o.success for o in single_pass.validate(dirty, plain)}
    assert whole[("expect_column_values_to_not_be_in_set", "status")] is False
    assert whole[("expect_column_value_lengths_to_equal", "country")] is False


def test_a_row_condition_can_make_an_expectation_pass_or_fail(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [(i, float(i), "DE" if i % 10 else "Germany", None if i % 4 else "x") for i in range(1, 101)],
        "id int, amount double, country string, note string",
    )
    base: list[dict[str, Any]] = [
        {"type": "expect_column_value_lengths_to_equal", "column": "country", "value": 2},
        {"type": "expect_column_mean_to_be_between", "column": "amount", "minValue": 40, "maxValue": 60},
        {"type": "expect_column_values_to_be_null", "column": "note", "mostly": 0.7},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b", "columnA": "amount", "columnB": "id"},
    ]
    conditions = ["id % 10 <> 0", "amount > 90", "id % 2 = 0", "id > 200"]
    expectations = [Expectation.model_validate(e) for e in base]
    expectations += [
        Expectation.model_validate({**e, "rowCondition": c}) for e, c in zip(base, conditions, strict=True)
    ]
    outcomes = single_pass.validate(df, expectations)
    # fails on all rows, passes without the bad ones; passes on all rows, fails on a selection
    assert [o.success for o in outcomes] == [False, True, True, False, True, False, False, True]
    assert [o.engine for o in outcomes[:3]] == ["single_pass"] * 3
    assert outcomes[0].unexpected_count == 10 and outcomes[4].unexpected_count == 0
    assert outcomes[5].observed_value == 95.5


def test_dirty_data_fails_the_right_expectations(spark: SparkSession) -> None:
    schema = "id int, amount double, email string, status string, country string, deleted_at string"
    dirty = spark.createDataFrame(_rows(True), schema)
    outcomes = single_pass.validate(dirty, [Expectation.model_validate(e) for e in SUITE])
    failed = {(o.type, o.column) for o in outcomes if not o.success}
    assert ("expect_column_values_to_be_unique", "id") in failed
    assert ("expect_column_values_to_be_between", "amount") in failed
    assert ("expect_column_values_to_not_be_null", "id") in failed
    assert ("expect_column_values_to_not_be_null", "email") not in failed  # mostly 0.9 tolerates a few
    between = next(o for o in outcomes if o.type == "expect_column_values_to_be_between")
    assert set(between.unexpected_sample) == {-5.0, 4000.0}


def test_unsupported_expectations_fall_back_to_great_expectations(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, 2), (2, 2), (3, 4)], "a int, b int")
    expectations = [
        Expectation.model_validate({"type": "expect_column_values_to_not_be_null", "column": "a"}),
        # a pair would now be compiled (test_quality_vocabulary.py); the median is not
        Expectation.model_validate(
            {"type": "expect_column_median_to_be_between", "column": "a", "minValue": 5}
        ),
    ]
    outcomes = single_pass.validate(df, expectations)
    assert [o.engine for o in outcomes] == ["single_pass", "great_expectations"]
    assert [o.success for o in outcomes] == [True, False]
