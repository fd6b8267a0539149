"""Differential tests of the vocabulary the single-pass engine compiles beyond the basics: ordering,
regex lists, Python-parsed values (strftime, dateutil, JSON, JSON Schema), type lists, z-scores,
column pairs and column lists. Each case runs through both engines (Great Expectations 1.x on Spark
is the reference) and many also against answers computed by hand, so a shared mistake still fails."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import pytest
from pydantic import ValidationError
from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.api.v1alpha1.expectations import NATIVE_ONLY
from dataops.quality import gx_engine, single_pass
from dataops.quality.map_predicates import NO_SPARK_IN_GX
from dataops.quality.results import ExpectationOutcome
from dataops.quality.second_pass import ORDERED

SCHEMA = (
    "i int, inc int, dec double, d date, ts timestamp, f float, label string, s string, j string,"
    " jbad string, code string, z double, flat double, a int, b int, pa string, pb string,"
    " x int, y int, w int"
)
D = dt.date
T = dt.datetime
_COLUMNS: dict[str, list[Any]] = {
    "inc": [1, 2, 2, None, 5, 4, 6, 7, 7, 8],
    "dec": [9.0, 8.0, 8.0, None, 9.5, 3.0, 2.0, 2.0, float("nan"), 1.0],
    "d": [
        D(2024, 1, 1),
        D(2024, 1, 2),
        D(2024, 1, 2),
        None,
        D(2024, 1, 1),
        D(2024, 1, 4),
        D(2024, 1, 3),
        D(2024, 1, 5),
        D(2024, 1, 6),
        D(2024, 1, 7),
    ],
    "ts": [
        T(2024, 1, 1, 10),
        T(2024, 1, 1, 9),
        T(2024, 1, 2, 8),
        T(2024, 1, 3),
        T(2024, 1, 3),
        T(2024, 1, 2),
        T(2024, 1, 4),
        None,
        T(2024, 1, 5),
        T(2024, 1, 6),
    ],
    "f": [1.5, None, 0.5, 2.5, 3.5, 3.5, 4.0, None, 5.0, 6.0],
    "label": ["a", "b", "c", "b", None, "d", "e", "f", "g", "h"],
    "s": [
        "2024-01-31",
        "2024-02-30",
        "Jan 5 2024",
        "not a date",
        None,
        "2024/01/05",
        "",
        "12",
        "2024-01-31T10:00:00",
        "99999999999999999999",
    ],
    "j": [
        '{"a": 1, "b": {"c": "x"}}',
        '{"a": "1"}',
        "[1, 2]",
        '{"a": 2, "b": {"c": 3}}',
        None,
        '{"a": 3}',
        "null",
        '"text"',
        '{"a": 1, "b": {}}',
        '{"a": 5, "b": {"c": "y"}}',
    ],
    "jbad": ['{"a": 1}', "{bad", None, "[1,", "1", "", "true", "{'a': 1}", '{"a": 1}', "NaN"],
    "code": ["AB-1", "ab-2", "XY-3", "AB-x", None, "ZZ", "AB-12", "xy-4", "Q", "AB-"],
    "z": [-1.0, 1.0, -1.0, 1.0, 0.0, None, None, None, None, None],
    "flat": [2.0] * 9 + [None],
    "a": [1, 2, None, None, 5, 3, 7, None, 9, 4],
    "b": [1, 3, None, 4, None, 3, 6, None, 9, 5],
    "pa": ["x", "x", "y", None, "y", "z", None, "x", "y", "z"],
    "pb": ["1", "2", "1", "1", None, "3", None, "9", "2", "3"],
    "x": [1, 2, None, None, 1, 0, 3, None, 2, 5],
    "y": [2, 2, None, 1, 1, 0, 3, None, 2, 5],
    "w": [3, None, None, 2, 1, 6, 0, 5, 2, None],
}
NESTED_SCHEMA = {
    "type": "object",
    "required": ["a"],
    "properties": {
        "a": {"type": "integer"},
        "b": {"type": "object", "required": ["c"], "properties": {"c": {"type": "string"}}},
    },
}


def _e(kind: str, **arguments: Any) -> dict[str, Any]:
    return {"type": f"expect_{kind}", **arguments}


# (expectation, hand-computed (success, unexpected_count, considered rows)); element_count is 10
CASES: list[tuple[dict[str, Any], tuple[bool, int, int]]] = [
    # increasing: nulls of an int column are dropped before the window, ties pass unless strictly
    (_e("column_values_to_be_increasing", column="inc"), (False, 1, 9)),
    (_e("column_values_to_be_increasing", column="inc", strictly=True), (False, 3, 9)),
    (_e("column_values_to_be_increasing", column="inc", strictly=True, mostly=0.6), (True, 3, 9)),
    (_e("column_values_to_be_decreasing", column="inc"), (False, 5, 9)),
    (_e("column_values_to_be_decreasing", column="inc", strictly=True), (False, 7, 9)),
    # a double column: the NaN is dropped from the window but still counts as a value
    (_e("column_values_to_be_decreasing", column="dec"), (False, 1, 9)),
    (_e("column_values_to_be_decreasing", column="dec", strictly=True), (False, 3, 9)),
    # dates are not filtered: the value after a null is compared with nothing and passes
    (_e("column_values_to_be_increasing", column="d"), (False, 1, 9)),
    (_e("column_values_to_be_increasing", column="d", strictly=True), (False, 2, 9)),
    # timestamps are compared by whole days (datediff): 09:00 after 10:00 on one day is "increasing"
    (_e("column_values_to_be_increasing", column="ts"), (False, 1, 9)),
    (_e("column_values_to_be_increasing", column="ts", strictly=True), (False, 3, 9)),
    # a float column keeps its nulls in the window: a null difference passes
    (_e("column_values_to_be_increasing", column="f"), (True, 0, 8)),
    (_e("column_values_to_be_increasing", column="f", strictly=True), (False, 1, 8)),
    # regex lists; "any" joins the regexes into one alternation, so (?i) reaches the second one
    (
        _e("column_values_to_match_regex_list", column="code", regexList=["^AB-\\d+$", "^XY-\\d$"]),
        (False, 6, 9),
    ),
    (
        _e("column_values_to_match_regex_list", column="code", regexList=["(?i)^ab-\\d+$", "^XY-\\d$"]),
        (False, 4, 9),
    ),
    (
        _e(
            "column_values_to_match_regex_list",
            column="code",
            regexList=["^[A-Za-z]{2}-", "\\d$"],
            matchOn="all",
        ),
        (False, 4, 9),
    ),
    (
        _e(
            "column_values_to_match_regex_list",
            column="code",
            regexList=["^[A-Z]"],
            matchOn="all",
            mostly=0.7,
        ),
        (True, 2, 9),
    ),
    (_e("column_values_to_not_match_regex_list", column="code", regexList=["^AB", "^Q$"]), (False, 5, 9)),
    (_e("column_values_to_not_match_regex_list", column="code", regexList=["^none$"]), (True, 0, 9)),
    # Python-parsed values
    (_e("column_values_to_match_strftime_format", column="s", strftimeFormat="%Y-%m-%d"), (False, 8, 9)),
    (
        _e("column_values_to_match_strftime_format", column="s", strftimeFormat="%Y-%m-%d", mostly=0.1),
        (True, 8, 9),
    ),
    (_e("column_values_to_be_json_parseable", column="j"), (True, 0, 9)),
    # Python's json reads NaN; single quotes, an empty text and unclosed brackets fail
    (_e("column_values_to_be_json_parseable", column="jbad"), (False, 4, 9)),
    (_e("column_values_to_be_json_parseable", column="jbad", mostly=0.5), (True, 4, 9)),
    (_e("column_values_to_be_json_parseable", column="a"), (False, 7, 7)),  # json.loads(int) fails
    (_e("column_values_to_match_json_schema", column="j", jsonSchema=NESTED_SCHEMA), (False, 6, 9)),
    (_e("column_values_to_match_json_schema", column="j", jsonSchema={}), (True, 0, 9)),
    # z-scores of -1, 1, -1, 1, 0 (mean 0, sample stdev exactly 1): the threshold is exclusive
    (_e("column_value_z_scores_to_be_less_than", column="z", threshold=1, doubleSided=True), (False, 4, 5)),
    (_e("column_value_z_scores_to_be_less_than", column="z", threshold=1, doubleSided=False), (False, 2, 5)),
    (_e("column_value_z_scores_to_be_less_than", column="z", threshold=-1, doubleSided=True), (False, 4, 5)),
    (
        _e("column_value_z_scores_to_be_less_than", column="z", threshold=1.0000001, doubleSided=True),
        (True, 0, 5),
    ),
    (
        _e("column_value_z_scores_to_be_less_than", column="z", threshold=-0.5, doubleSided=False),
        (False, 3, 5),
    ),
    (
        _e("column_value_z_scores_to_be_less_than", column="z", threshold=1, doubleSided=True, mostly=0.2),
        (True, 4, 5),
    ),
    (
        _e("column_value_z_scores_to_be_less_than", column="flat", threshold=0.1, doubleSided=True),
        (True, 0, 9),
    ),
    # column pairs, under each ignoreRowIf
    (_e("column_pair_values_to_be_equal", columnA="a", columnB="b"), (False, 5, 8)),
    (
        _e("column_pair_values_to_be_equal", columnA="a", columnB="b", ignoreRowIf="either_value_is_missing"),
        (False, 3, 6),
    ),
    (_e("column_pair_values_to_be_equal", columnA="a", columnB="b", ignoreRowIf="neither"), (False, 5, 10)),
    (_e("column_pair_values_to_be_equal", columnA="a", columnB="b", mostly=0.35), (True, 5, 8)),
    (_e("column_pair_values_a_to_be_greater_than_b", columnA="a", columnB="b"), (False, 5, 8)),
    (_e("column_pair_values_a_to_be_greater_than_b", columnA="a", columnB="b", mostly=0.3), (True, 5, 8)),
    (_e("column_pair_values_a_to_be_greater_than_b", columnA="a", columnB="b", orEqual=True), (False, 2, 8)),
    (
        _e(
            "column_pair_values_a_to_be_greater_than_b",
            columnA="a",
            columnB="b",
            orEqual=True,
            ignoreRowIf="neither",
        ),
        (False, 2, 10),
    ),
    (
        _e(
            "column_pair_values_a_to_be_greater_than_b",
            columnA="a",
            columnB="b",
            ignoreRowIf="either_value_is_missing",
        ),
        (False, 5, 6),
    ),
    (
        _e(
            "column_pair_values_to_be_in_set",
            columnA="pa",
            columnB="pb",
            valuePairsSet=[["x", "1"], ["x", "2"], ["y", "1"], [None, "1"], ["z", "3"]],
        ),
        (False, 3, 9),
    ),
    (
        _e(
            "column_pair_values_to_be_in_set",
            columnA="pa",
            columnB="pb",
            valuePairsSet=[["x", "1"], ["x", "2"], ["y", "1"], [None, "1"], ["z", "3"]],
            ignoreRowIf="either_value_is_missing",
        ),
        (False, 2, 7),
    ),
    (
        _e(
            "column_pair_values_to_be_in_set",
            columnA="pa",
            columnB="pb",
            valuePairsSet=[["x", "1"], ["x", "2"], ["y", "1"], [None, "1"], ["z", "3"]],
            ignoreRowIf="neither",
        ),
        (False, 4, 10),
    ),
    (
        _e("column_pair_values_to_be_in_set", columnA="a", columnB="b", valuePairsSet=[[1, 1.0], [3, 3]]),
        (False, 6, 8),
    ),
    # column lists, under each ignoreRowIf (nulls add 0 to a sum; two nulls are "equal" within a record)
    (_e("multicolumn_sum_to_equal", columnList=["x", "y", "w"], sumTotal=6), (False, 5, 9)),
    (
        _e(
            "multicolumn_sum_to_equal",
            columnList=["x", "y", "w"],
            sumTotal=6,
            ignoreRowIf="any_value_is_missing",
        ),
        (False, 1, 5),
    ),
    (
        _e("multicolumn_sum_to_equal", columnList=["x", "y", "w"], sumTotal=6, ignoreRowIf="never"),
        (False, 6, 10),
    ),
    (_e("multicolumn_sum_to_equal", columnList=["x", "y", "w"], sumTotal=6, mostly=0.4), (True, 5, 9)),
    (_e("select_column_values_to_be_unique_within_record", columnList=["x", "y", "w"]), (False, 7, 9)),
    (
        _e(
            "select_column_values_to_be_unique_within_record",
            columnList=["x", "y", "w"],
            ignoreRowIf="any_value_is_missing",
        ),
        (False, 4, 5),
    ),
    (
        _e(
            "select_column_values_to_be_unique_within_record", columnList=["x", "y", "w"], ignoreRowIf="never"
        ),
        (False, 8, 10),
    ),
    (_e("select_column_values_to_be_unique_within_record", columnList=["x", "w"]), (False, 2, 9)),
]
# GX's own function raises (or its column type is one GX cannot use): handed over to GX
HANDED_OVER = [
    _e("column_values_to_match_json_schema", column="jbad", jsonSchema={"type": "object"}),  # invalid JSON
    _e("column_values_to_match_strftime_format", column="a", strftimeFormat="%Y"),  # not text
    _e("column_values_to_match_regex_list", column="code", regexList=["("]),  # Java rejects the regex
    _e("column_values_to_be_increasing", column="label"),  # text cannot be subtracted
    _e("column_value_z_scores_to_be_less_than", column="label", threshold=2, doubleSided=True),
    _e("column_values_to_be_in_type_list", column="a", typeList=["int"]),  # no Spark type of that name
    _e("column_pair_values_to_be_equal", columnA="a", columnB="pa"),  # a number and a text
    _e("column_pair_values_to_be_in_set", columnA="a", columnB="b", valuePairsSet=[["1", 1]]),
    _e("multicolumn_sum_to_equal", columnList=["x", "label"], sumTotal=1),
    _e("compound_columns_to_be_unique", columnList=["x", "y"]),
]
TYPE_LISTS: list[tuple[dict[str, Any], bool]] = [
    (_e("column_values_to_be_in_type_list", column="a", typeList=["IntegerType", "LongType"]), True),
    (_e("column_values_to_be_in_type_list", column="a", typeList=["StringType"]), False),
    (_e("column_values_to_be_in_type_list", column="a", typeList=["NumericType", "nonsense"]), True),
    (_e("column_values_to_be_in_type_list", column="s"), True),
]


def _rows() -> list[tuple[Any, ...]]:
    names = [c.split()[0] for c in SCHEMA.split(",")]
    return [tuple(i if n == "i" else _COLUMNS[n][i] for n in names) for i in range(10)]


@pytest.fixture(scope="module")
def table(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(_rows(), SCHEMA)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b), rel_tol=1e-9)
    return bool(a == b)


def _assert_agree(
    expectations: list[Expectation], ours: list[ExpectationOutcome], gx: list[ExpectationOutcome]
) -> None:
    for e, a, b in zip(expectations, ours, gx, strict=True):
        label = e.model_dump(exclude_none=True, by_alias=True)
        assert b.engine == "great_expectations", label
        assert (a.success, a.element_count, a.unexpected_count) == (
            b.success,
            b.element_count,
            b.unexpected_count,
        ), (
            label,
            a,
            b,
        )
        assert (
            _same(a.unexpected_percent, b.unexpected_percent) or a.unexpected_percent == b.unexpected_percent
        ), label
        assert a.observed_value == b.observed_value, label
        if a.unexpected_count:
            assert a.unexpected_sample, label


def test_each_type_in_single_pass_agrees_with_gx_and_with_the_hand_computed_answer(table: DataFrame) -> None:
    expectations = [Expectation.model_validate(e) for e, _ in CASES]
    ours = single_pass.validate(table, expectations)
    for e, o, (_, expected) in zip(expectations, ours, CASES, strict=True):
        label = e.model_dump(exclude_none=True, by_alias=True)
        assert o.engine == "single_pass", label
        success, unexpected, considered = expected
        assert (o.success, o.unexpected_count, o.element_count) == (success, unexpected, 10), (label, o)
        assert o.unexpected_percent is not None and math.isclose(
            o.unexpected_percent, 100 * unexpected / considered
        )
    gx_types = [e for e in expectations if str(e.type.value) not in NO_SPARK_IN_GX]
    _assert_agree(gx_types, single_pass.validate(table, gx_types), gx_engine.validate(table, gx_types))


def test_samples_show_the_unexpected_values_and_pairs(table: DataFrame) -> None:
    checks = [
        _e("column_values_to_be_increasing", column="inc"),
        _e("column_values_to_be_json_parseable", column="jbad"),
        _e("column_pair_values_a_to_be_greater_than_b", columnA="a", columnB="b", orEqual=True),
        _e(
            "multicolumn_sum_to_equal",
            columnList=["x", "y", "w"],
            sumTotal=6,
            ignoreRowIf="any_value_is_missing",
        ),
    ]
    increasing, json_values, pairs, sums = single_pass.validate(
        table, [Expectation.model_validate(c) for c in checks]
    )
    assert increasing.unexpected_sample == [4]
    assert sorted(json_values.unexpected_sample) == ["", "[1,", "{'a': 1}", "{bad"]
    assert sorted(pairs.unexpected_sample) == [(2, 3), (4, 5)]
    assert sums.unexpected_sample == [(1, 1, 1)]


def test_cases_gx_cannot_answer_or_answers_with_an_error_are_handed_to_gx(table: DataFrame) -> None:
    expectations = [Expectation.model_validate(e) for e in HANDED_OVER]
    ours = single_pass.validate(table, expectations)
    assert [o.engine for o in ours] == ["great_expectations"] * len(HANDED_OVER)
    by_type = {(o.type, o.column): o for o in ours}
    # invalid JSON makes GX's JSON Schema check raise: an error, not a count
    invalid_json = by_type[("expect_column_values_to_match_json_schema", "jbad")]
    assert invalid_json.success is False and invalid_json.unexpected_count is None
    assert by_type[("expect_column_values_to_be_increasing", "label")].success is False
    assert by_type[("expect_compound_columns_to_be_unique", None)].success is False  # (2, 2) twice


def test_type_lists_are_checked_against_the_spark_type(table: DataFrame) -> None:
    expectations = [Expectation.model_validate(e) for e, _ in TYPE_LISTS]
    ours = single_pass.validate(table, expectations)
    assert [o.engine for o in ours] == ["single_pass"] * len(TYPE_LISTS)
    assert [o.success for o in ours] == [ok for _, ok in TYPE_LISTS]
    assert ours[0].observed_value == "IntegerType" and ours[3].observed_value == "StringType"
    _assert_agree(expectations, ours, gx_engine.validate(table, expectations))


def _gx_on_pandas(df: DataFrame, expectation: Expectation) -> Any:
    """Great Expectations implements dateutil parsing for pandas only: the reference for it."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("pandas").add_dataframe_asset("frame")
    batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(
        batch_parameters={"dataframe": df.select(expectation.column or "").toPandas()}
    )
    return batch.validate(gx_engine.gx_expectation(expectation), result_format="SUMMARY")


@pytest.mark.parametrize("mostly", [1.0, 0.5])
def test_dateutil_parsing_agrees_with_gx_on_pandas(table: DataFrame, mostly: float) -> None:
    expectation = Expectation.model_validate(
        _e("column_values_to_be_dateutil_parseable", column="s", mostly=mostly)
    )
    ours = single_pass.validate(table, [expectation])[0]
    assert ours.engine == "single_pass" and ours.unexpected_count == 4  # Feb 30, words, "", an overflow
    assert ours.success is (mostly == 0.5)
    reference = _gx_on_pandas(table, expectation)
    assert ours.success == reference.success
    assert ours.unexpected_count == reference.result["unexpected_count"]
    assert ours.element_count == reference.result["element_count"]
    # the GX engine (which has no Spark implementation to call) answers the same through the single pass
    assert gx_engine.validate(table, [expectation])[0].unexpected_count == 4


def test_dateutil_of_values_that_are_not_text_fails_with_an_explanation(table: DataFrame) -> None:
    expectation = Expectation.model_validate(_e("column_values_to_be_dateutil_parseable", column="a"))
    outcome = single_pass.validate(table, [expectation])[0]
    assert outcome.success is False and "not text" in str(outcome.observed_value)


def test_every_compiled_type_is_tested_against_gx() -> None:
    from tests.runtime.test_quality_engines import SUITE

    tested = {e["type"] for e, _ in CASES} | {e["type"] for e, _ in TYPE_LISTS} | {e["type"] for e in SUITE}
    tested.add("expect_column_values_to_be_dateutil_parseable")
    assert tested == single_pass.SUPPORTED - NATIVE_ONLY


def test_an_empty_regex_list_is_rejected_by_the_api() -> None:
    with pytest.raises(ValidationError):
        Expectation.model_validate(
            _e("column_values_to_match_regex_list", column="c", regexList=[], matchOn="all")
        )


def _generated(spark: SparkSession, partitions: int) -> DataFrame:
    rng = random.Random(11)
    rows = []
    for i in range(300):

        def maybe(value: Any, p: float = 0.1) -> Any:
            return None if rng.random() < p else value

        rows.append(
            (
                i,
                maybe(i // 3 + (rng.random() < 0.05) * -2),
                maybe(round(rng.gauss(50, 10), 1)),
                maybe(D(2024, 1, 1) + dt.timedelta(days=i // 4)),
                maybe(rng.choice(["2024-01-0" + str(rng.randint(1, 9)), "2024-13-01", "x", "2024-02-29"])),
                maybe(rng.choice(['{"k": 1}', '{"k": "v"}', "[]", '{"k": {"n": 1}}'])),
                maybe(rng.choice(["AB-1", "ab-2", "Q", "XY-9"])),
                maybe(rng.randint(0, 4)),
                maybe(rng.randint(0, 4)),
                maybe(rng.randint(0, 4), 0.2),
            )
        )
    schema = "i int, n int, g double, d date, s string, j string, code string, a int, b int, c int"
    df = spark.createDataFrame(rows, schema)
    return df.repartition(partitions) if partitions > 1 else df


GENERATED = [
    _e("column_values_to_be_increasing", column="n"),
    _e("column_values_to_be_increasing", column="n", strictly=True, mostly=0.5),
    _e("column_values_to_be_decreasing", column="g", mostly=0.3),
    _e("column_values_to_be_increasing", column="d"),
    _e("column_values_to_be_increasing", column="d", strictly=True),
    _e("column_values_to_match_strftime_format", column="s", strftimeFormat="%Y-%m-%d", mostly=0.5),
    _e("column_values_to_be_json_parseable", column="j"),
    _e(
        "column_values_to_match_json_schema",
        column="j",
        jsonSchema={"type": "object", "properties": {"k": {"type": "integer"}}},
    ),
    _e(
        "column_values_to_match_regex_list",
        column="code",
        regexList=["^[A-Z]", "\\d$"],
        matchOn="all",
        mostly=0.4,
    ),
    _e("column_values_to_not_match_regex_list", column="code", regexList=["^Q$"], mostly=0.6),
    _e("column_value_z_scores_to_be_less_than", column="g", threshold=2, doubleSided=True, mostly=0.9),
    _e("column_value_z_scores_to_be_less_than", column="g", threshold=1.5, doubleSided=False),
    _e("column_pair_values_to_be_equal", columnA="a", columnB="b", mostly=0.1),
    _e(
        "column_pair_values_a_to_be_greater_than_b",
        columnA="a",
        columnB="b",
        orEqual=True,
        ignoreRowIf="neither",
    ),
    _e(
        "column_pair_values_to_be_in_set",
        columnA="a",
        columnB="b",
        valuePairsSet=[[0, 0], [1, None], [None, 2]],
    ),
    _e(
        "multicolumn_sum_to_equal", columnList=["a", "b", "c"], sumTotal=4, ignoreRowIf="any_value_is_missing"
    ),
    _e("select_column_values_to_be_unique_within_record", columnList=["a", "b", "c"], mostly=0.2),
]


@pytest.mark.parametrize("partitions", [1, 3])
def test_generated_data_with_nulls_agrees_with_gx(spark: SparkSession, partitions: int) -> None:
    df = _generated(spark, partitions)
    expectations = [Expectation.model_validate(e) for e in GENERATED]
    ours = single_pass.validate(df, expectations)
    ordered = [str(e.type.value) in ORDERED for e in expectations]
    # after a shuffle the row order GX's window sees is not reproducible: GX answers for itself
    assert [o.engine for o in ours] == [
        "great_expectations" if is_ordered and partitions > 1 else "single_pass" for is_ordered in ordered
    ]
    assert any(o.success for o in ours) and any(not o.success for o in ours)
    compared = [
        e for e, is_ordered in zip(expectations, ordered, strict=True) if partitions == 1 or not is_ordered
    ]
    _assert_agree(compared, single_pass.validate(df, compared), gx_engine.validate(df, compared))
