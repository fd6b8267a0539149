"""Value sets on a typed column: which members can equal a value of the column.

A suite's value set keeps JSON scalars as written (``[true, 2.0, "2", null]``), but Spark's ``isin``
refuses members of another type than the column ("Input to `in` should all be the same type") and
casts silently where it does not. A member equals a value only when both are of the same kind:
numbers (not booleans) for numeric columns, booleans for boolean columns, text for text columns;
dates and times compare with their ISO text as Spark reads it. A null member equals nothing (null
values are never checked) and is left out, which also keeps ``isin`` from answering null. Both
engines use this, so they answer alike and never fail on a mixed set."""

from __future__ import annotations

from typing import Any

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    NumericType,
    StringType,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from dataops.api.v1alpha1.dataqualitysuite import Expectation


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def comparable_members(members: list[Any] | None, data_type: DataType) -> list[Any]:
    """The members of ``members`` that can equal a value of a column of ``data_type``, in order."""
    values = [m for m in members or [] if m is not None]
    if isinstance(data_type, BooleanType):
        return [m for m in values if isinstance(m, bool)]
    if isinstance(data_type, NumericType):
        return [m for m in values if _is_number(m)]
    if isinstance(data_type, StringType | DateType | TimestampType | TimestampNTZType):
        return [m for m in values if isinstance(m, str)]
    return values


SET_MEMBERSHIP = frozenset({"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"})


def with_comparable_value_set(schema: StructType, expectation: Expectation) -> Expectation:
    """``expectation`` with only the members its column can equal, for the per-value set checks."""
    if str(expectation.type.value) not in SET_MEMBERSHIP or expectation.column not in schema.names:
        return expectation
    members = comparable_members(expectation.value_set, schema[expectation.column].dataType)
    return expectation.model_copy(update={"value_set": members})
