"""Row predicates of map expectations, as Great Expectations 1.x evaluates them on Spark.

Each builder returns a :class:`MapCheck` (which rows are unexpected, which are considered, which
would make Great Expectations itself raise) or ``None`` when the expectation cannot be compiled
with the exact Great Expectations semantics on this schema; the single-pass engine then hands it
to Great Expectations. Types and literals are checked up front so that no predicate can fail at
run time (Spark's ANSI casts would abort the whole shared aggregation).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from dataops.api.v1alpha1.datapolicy import PiiClassification
from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.quality.pii import looks_like_pii

OK, UNEXPECTED, RAISES = 1, 0, 2  # what the Python checks answer per value


@dataclass
class MapCheck:
    unexpected: Column  # rows counted as unexpected (a null answer counts as expected, as in GX)
    considered: Column | None = None  # the rows of the denominator; None: the column's non-null values
    raises: Column | None = None  # rows on which Great Expectations' own function raises
    sample: list[str] = field(default_factory=list)  # the columns an unexpected sample shows


def col(name: str) -> Column:
    return F.col(f"`{name}`")


def _family(data_type: T.DataType) -> str | None:
    """Kinds of Spark values that compare with each other without a run-time cast."""
    if isinstance(data_type, T.NumericType):
        return "number"
    if isinstance(data_type, T.StringType | T.VarcharType | T.CharType):
        return "text"
    if isinstance(data_type, T.BooleanType):
        return "bool"
    if isinstance(data_type, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "time"
    return None


def _literal_family(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number" if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def _comparable(types: list[T.DataType], literals: Sequence[Any] = ()) -> bool:
    families = {_family(t) for t in types} | {_literal_family(v) for v in literals if v is not None}
    return len(families) == 1 and None not in families


def java_regex_ok(pattern: str) -> bool:
    """Whether Spark's ``rlike`` (java.util.regex) accepts the pattern; an invalid one fails the job."""
    session = SparkSession.getActiveSession()
    jvm = getattr(session, "_jvm", None) if session is not None else None
    if jvm is None:  # Spark Connect: no JVM to ask
        return True
    try:
        jvm.java.util.regex.Pattern.compile(pattern)
    except Exception:
        return False
    return True


def _between(value: Column, e: Expectation) -> Column:
    """Rows inside the bounds (inclusive unless strict)."""
    inside = F.lit(True)
    if e.min_value is not None:
        inside = inside & (value > e.min_value if e.strict_min else value >= e.min_value)
    if e.max_value is not None:
        inside = inside & (value < e.max_value if e.strict_max else value <= e.max_value)
    return inside


def _members(e: Expectation) -> list[Any]:
    # a null member matches no (non-null) value; left in, `isin` would answer null for every value
    return [v for v in e.value_set or [] if v is not None]


def _classes(e: Expectation) -> list[PiiClassification] | None:
    return [PiiClassification(k.value) for k in e.classifications] if e.classifications else None


# Column-map expectations compiled as Spark expressions: the *expected* condition of a non-null value.
_EXPECTED: dict[str, Callable[[Column, Expectation], Column]] = {
    "expect_column_values_to_be_between": lambda c, e: _between(c, e),
    "expect_column_values_to_be_in_set": lambda c, e: c.isin(_members(e)),
    "expect_column_values_to_not_be_in_set": lambda c, e: ~c.isin(_members(e)),
    "expect_column_values_to_match_regex": lambda c, e: c.rlike(e.regex or ""),
    "expect_column_values_to_not_match_regex": lambda c, e: ~c.rlike(e.regex or ""),
    "expect_column_value_lengths_to_be_between": lambda c, e: _between(F.length(c), e),
    "expect_column_value_lengths_to_equal": lambda c, e: F.length(c) == F.lit(e.value),
    "expect_column_values_to_not_contain_pii": lambda c, e: ~looks_like_pii(c, _classes(e)),
    # GX joins the list into one alternation for "any" (flags like (?i) then reach later items)
    "expect_column_values_to_match_regex_list": lambda c, e: (
        c.rlike("|".join(e.regex_list or []))
        if (e.match_on or "any") == "any"
        else reduce(lambda a, b: a & b, [c.rlike(r) for r in e.regex_list or []])
    ),
    "expect_column_values_to_not_match_regex_list": lambda c, e: reduce(
        lambda a, b: a & b, [~c.rlike(r) for r in e.regex_list or []]
    ),
}


def _regexes(e: Expectation) -> list[str]:
    kind = str(e.type.value)
    if kind == "expect_column_values_to_match_regex_list" and (e.match_on or "any") == "any":
        return [*(e.regex_list or []), "|".join(e.regex_list or [])]
    return [*(e.regex_list or []), *([e.regex] if e.regex else [])]


# --- Python checks: the functions Great Expectations applies per value (in a Spark UDF) -----------


def _strftime_check(strftime_format: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if value is None:
            return OK
        try:
            datetime.strptime(value, strftime_format)  # as Great Expectations does
        except ValueError:
            return UNEXPECTED
        except Exception:  # a TypeError: GX raises
            return RAISES
        return OK

    return check


def _json_check(value: Any) -> int:
    try:
        json.loads(value)
    except Exception:
        return UNEXPECTED
    return OK


def _json_schema_check(schema: dict[str, Any]) -> Callable[[Any], int]:
    import jsonschema

    def check(value: Any) -> int:
        if value is None:
            return OK
        try:
            jsonschema.validate(instance=json.loads(value), schema=schema)
        except jsonschema.ValidationError:
            return UNEXPECTED
        except Exception:  # invalid JSON, a non-text value, a bad schema: GX raises
            return RAISES
        return OK

    return check


def _dateutil_check(value: Any) -> int:
    from dateutil.parser import parse  # type: ignore[import-untyped]

    if value is None:
        return OK
    if type(value) is not str:
        return RAISES
    try:
        parse(value)
    except (ValueError, OverflowError):
        return UNEXPECTED
    except Exception:
        return RAISES
    return OK


def strftime_format_ok(strftime_format: str) -> bool:
    """Great Expectations' own check of the format (it raises on a format it cannot round-trip)."""
    try:
        datetime.strptime(datetime.now(tz=UTC).strftime(strftime_format), strftime_format)
    except ValueError:
        return False
    return True


def _python_check(e: Expectation) -> Callable[[Any], int] | None:
    kind = str(e.type.value)
    if kind == "expect_column_values_to_match_strftime_format" and e.strftime_format:
        return _strftime_check(e.strftime_format) if strftime_format_ok(e.strftime_format) else None
    if kind == "expect_column_values_to_be_json_parseable":
        return _json_check
    if kind == "expect_column_values_to_match_json_schema" and e.json_schema is not None:
        return _json_schema_check(e.json_schema)
    if kind == "expect_column_values_to_be_dateutil_parseable":
        return _dateutil_check
    return None


PYTHON_CHECKED = {
    "expect_column_values_to_match_strftime_format",
    "expect_column_values_to_be_json_parseable",
    "expect_column_values_to_match_json_schema",
    "expect_column_values_to_be_dateutil_parseable",
}
COLUMN_MAP = set(_EXPECTED) | PYTHON_CHECKED
# Great Expectations implements this one for pandas only: on Spark both engines use the check above.
NO_SPARK_IN_GX = frozenset({"expect_column_values_to_be_dateutil_parseable"})


def column_check(e: Expectation, schema: T.StructType) -> MapCheck | None:
    """A column-map expectation; GX counts non-null values that are not expected."""
    kind, name = str(e.type.value), e.column or ""
    if name not in schema.fieldNames():
        return None
    c, data_type = col(name), schema[name].dataType
    if kind in PYTHON_CHECKED:
        if kind == "expect_column_values_to_match_strftime_format" and _family(data_type) != "text":
            return None  # strptime of a non-text value raises in GX
        check = _python_check(e)
        if check is None:
            return None
        answer = F.udf(check, T.IntegerType())(c)
        return MapCheck(c.isNotNull() & (answer == UNEXPECTED), raises=c.isNotNull() & (answer == RAISES))
    in_set = kind in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set")
    if in_set and not _comparable([data_type], e.value_set or []):
        return None
    if any(not java_regex_ok(r) for r in _regexes(e)):
        return None
    return MapCheck(c.isNotNull() & ~_EXPECTED[kind](c, e))


# --- column pairs and column lists: GX drops the ignored rows, then counts ~expected ------------

PAIR = {
    "expect_column_pair_values_to_be_equal",
    "expect_column_pair_values_a_to_be_greater_than_b",
    "expect_column_pair_values_to_be_in_set",
}
MULTICOLUMN = {"expect_select_column_values_to_be_unique_within_record", "expect_multicolumn_sum_to_equal"}


def _pair_expected(e: Expectation, a: Column, b: Column) -> Column:
    kind = str(e.type.value)
    if kind == "expect_column_pair_values_to_be_equal":
        return a.eqNullSafe(b)
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        return (a >= b) | a.eqNullSafe(b) if e.or_equal else a > b
    pairs = [(x, y) for x, y in e.value_pairs_set or []]
    return reduce(lambda p, q: p | q, [a.eqNullSafe(F.lit(x)) & b.eqNullSafe(F.lit(y)) for x, y in pairs])


def pair_check(e: Expectation, schema: T.StructType) -> MapCheck | None:
    names = [e.column_a or "", e.column_b or ""]
    if any(n not in schema.fieldNames() for n in names):
        return None
    types = [schema[n].dataType for n in names]
    pairs = e.value_pairs_set or []
    if not _comparable(types[:1], [x for x, _ in pairs]) or not _comparable(types[1:], [y for _, y in pairs]):
        return None
    if not pairs and not _comparable(types):
        return None
    a, b = col(names[0]), col(names[1])
    ignore = str(e.ignore_row_if or "both_values_are_missing")
    ignored = {
        "both_values_are_missing": a.isNull() & b.isNull(),
        "either_value_is_missing": a.isNull() | b.isNull(),
        "neither": F.lit(False),
    }.get(ignore)
    if ignored is None:
        return None
    return MapCheck(~ignored & ~_pair_expected(e, a, b), considered=~ignored, sample=names)


def multicolumn_check(e: Expectation, schema: T.StructType) -> MapCheck | None:
    names = list(e.column_list or [])
    if len(names) < 2 or any(n not in schema.fieldNames() or "`" in n for n in names):
        return None
    types = [schema[n].dataType for n in names]
    columns = [col(n) for n in names]
    if str(e.type.value) == "expect_multicolumn_sum_to_equal":
        if e.sum_total is None or not all(isinstance(t, T.NumericType) for t in types):
            return None
        integral = T.ByteType | T.ShortType | T.IntegerType | T.LongType
        operands = [
            f"CAST(COALESCE(`{n}`, 0) AS DECIMAL(38, 0))"
            if isinstance(t, integral)
            else f"COALESCE(`{n}`, 0)"
            for n, t in zip(names, types, strict=True)
        ]
        expected = F.expr("+".join(operands)) == F.lit(e.sum_total)
    else:
        if not _comparable(types):
            return None
        same = [
            columns[i].eqNullSafe(columns[j]) for i in range(len(names)) for j in range(i + 1, len(names))
        ]
        expected = ~reduce(lambda p, q: p | q, same)
    missing = [c.isNull() for c in columns]
    ignored = {
        "all_values_are_missing": reduce(lambda p, q: p & q, missing),
        "any_value_is_missing": reduce(lambda p, q: p | q, missing),
        "never": F.lit(False),
    }.get(str(e.ignore_row_if or "all_values_are_missing"))
    if ignored is None:
        return None
    return MapCheck(~ignored & ~expected, considered=~ignored, sample=names)
