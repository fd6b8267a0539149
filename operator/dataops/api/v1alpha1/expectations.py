"""The supported Great Expectations vocabulary and the arguments each expectation takes.

One table drives three things: the enum in the CRD, the CEL rules that reject missing or
misplaced arguments at admission, and the offline checks of ``dataops validate``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExpectationKind:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    needs_bound: bool = False  # at least one of minValue / maxValue


_BOUNDS = ("minValue", "maxValue", "strictMin", "strictMax")
# Column pairs skip rows by how many of the two values are missing, column lists by how many of theirs.
PAIR_IGNORE_ROW_IF = ("both_values_are_missing", "either_value_is_missing", "neither")
MULTICOLUMN_IGNORE_ROW_IF = ("all_values_are_missing", "any_value_is_missing", "never")

EXPECTATIONS: dict[str, ExpectationKind] = {
    "expect_column_to_exist": ExpectationKind(("column",), ("columnIndex",)),
    "expect_column_values_to_not_be_null": ExpectationKind(("column",)),
    "expect_column_values_to_be_null": ExpectationKind(("column",)),
    "expect_column_values_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_values_to_be_in_set": ExpectationKind(("column", "valueSet")),
    "expect_column_values_to_not_be_in_set": ExpectationKind(("column", "valueSet")),
    "expect_column_values_to_match_regex": ExpectationKind(("column", "regex")),
    "expect_column_values_to_not_match_regex": ExpectationKind(("column", "regex")),
    "expect_column_values_to_be_unique": ExpectationKind(("column",)),
    "expect_column_values_to_be_increasing": ExpectationKind(("column",), ("strictly",)),
    "expect_column_values_to_be_decreasing": ExpectationKind(("column",), ("strictly",)),
    "expect_column_values_to_match_regex_list": ExpectationKind(("column", "regexList"), ("matchOn",)),
    "expect_column_values_to_not_match_regex_list": ExpectationKind(("column", "regexList")),
    "expect_column_values_to_match_strftime_format": ExpectationKind(("column", "strftimeFormat")),
    "expect_column_values_to_be_dateutil_parseable": ExpectationKind(("column",)),
    "expect_column_values_to_be_json_parseable": ExpectationKind(("column",)),
    "expect_column_values_to_match_json_schema": ExpectationKind(("column", "jsonSchema")),
    "expect_column_values_to_be_in_type_list": ExpectationKind(("column",), ("typeList",)),
    "expect_column_value_z_scores_to_be_less_than": ExpectationKind(("column", "threshold", "doubleSided")),
    "expect_column_values_to_not_be_outliers": ExpectationKind(("column",), ("method", "multiplier")),
    "expect_column_type_to_be": ExpectationKind(("column", "typeName")),
    "expect_column_proportion_of_non_null_values_to_be_between": ExpectationKind(
        ("column",), _BOUNDS, needs_bound=True
    ),
    "expect_multicolumn_values_to_be_equal": ExpectationKind(("columnList",), ("ignoreRowIf",)),
    "expect_column_values_to_be_of_type": ExpectationKind(("column", "typeName")),
    "expect_column_value_lengths_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_value_lengths_to_equal": ExpectationKind(("column", "value")),
    "expect_table_row_count_to_be_between": ExpectationKind((), _BOUNDS, needs_bound=True),
    "expect_table_row_count_to_equal": ExpectationKind(("value",)),
    "expect_table_columns_to_match_set": ExpectationKind(("columnSet",), ("exactMatch",)),
    "expect_table_columns_to_match_ordered_list": ExpectationKind(("columnList",)),
    "expect_table_column_count_to_equal": ExpectationKind(("value",)),
    "expect_table_column_count_to_be_between": ExpectationKind((), _BOUNDS, needs_bound=True),
    "expect_column_mean_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_median_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_min_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_max_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_sum_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_stdev_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_quantile_values_to_be_between": ExpectationKind(("column", "quantileRanges")),
    "expect_column_unique_value_count_to_be_between": ExpectationKind(("column",), _BOUNDS, needs_bound=True),
    "expect_column_proportion_of_unique_values_to_be_between": ExpectationKind(
        ("column",), _BOUNDS, needs_bound=True
    ),
    "expect_column_distinct_values_to_be_in_set": ExpectationKind(("column", "valueSet")),
    "expect_column_distinct_values_to_contain_set": ExpectationKind(("column", "valueSet")),
    "expect_column_distinct_values_to_equal_set": ExpectationKind(("column", "valueSet")),
    "expect_column_most_common_value_to_be_in_set": ExpectationKind(("column", "valueSet"), ("tiesOkay",)),
    "expect_compound_columns_to_be_unique": ExpectationKind(("columnList",), ("ignoreRowIf",)),
    "expect_select_column_values_to_be_unique_within_record": ExpectationKind(
        ("columnList",), ("ignoreRowIf",)
    ),
    "expect_column_pair_values_to_be_equal": ExpectationKind(("columnA", "columnB"), ("ignoreRowIf",)),
    "expect_column_pair_values_a_to_be_greater_than_b": ExpectationKind(
        ("columnA", "columnB"), ("orEqual", "ignoreRowIf")
    ),
    "expect_column_pair_values_to_be_in_set": ExpectationKind(
        ("columnA", "columnB", "valuePairsSet"), ("ignoreRowIf",)
    ),
    "expect_multicolumn_sum_to_equal": ExpectationKind(("columnList", "sumTotal"), ("ignoreRowIf",)),
    # dataops' own: values that look like personal data (quality/pii.py) are unexpected
    "expect_column_values_to_not_contain_pii": ExpectationKind(("column",), ("classifications",)),
}

ARGUMENTS: tuple[str, ...] = (
    "column",
    "columnList",
    "columnSet",
    "columnA",
    "columnB",
    "valueSet",
    "regex",
    "typeName",
    "value",
    "sumTotal",
    "quantileRanges",
    "minValue",
    "maxValue",
    "strictMin",
    "strictMax",
    "exactMatch",
    "orEqual",
    "classifications",
    "columnIndex",
    "strictly",
    "regexList",
    "matchOn",
    "strftimeFormat",
    "jsonSchema",
    "typeList",
    "threshold",
    "doubleSided",
    "valuePairsSet",
    "ignoreRowIf",
    "tiesOkay",
    "method",
    "multiplier",
)
# Expectations no Great Expectations class implements: the single-pass engine evaluates them.
NATIVE_ONLY = frozenset({"expect_column_values_to_not_contain_pii"})


PAIR_TYPES = tuple(name for name in EXPECTATIONS if name.startswith("expect_column_pair_values"))
MULTICOLUMN_TYPES = tuple(
    name
    for name, kind in EXPECTATIONS.items()
    if "columnList" in kind.required and "ignoreRowIf" in kind.optional
)


def types_requiring(argument: str) -> list[str]:
    return [name for name, kind in EXPECTATIONS.items() if argument in kind.required]


def types_accepting(argument: str) -> list[str]:
    return [name for name, kind in EXPECTATIONS.items() if argument in kind.required + kind.optional]


def types_needing_bound() -> list[str]:
    return [name for name, kind in EXPECTATIONS.items() if kind.needs_bound]
