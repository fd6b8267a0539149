"""Bounds written as ISO 8601 text, read as the dates or times they name for date and time columns.

Great Expectations compares text bounds with a timestamp column through Spark's implicit casts and
fails outright when the two bounds are written differently (``"1999-01-01"`` and
``"2000-12-31T00:00:00"``). Given as ``datetime``/``date`` values it compares them as times, which is
what the suite means. Text bounds on other columns stay text (strings compare as strings)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pyspark.sql.types import DateType, StructType, TimestampNTZType, TimestampType

from dataops.api.v1alpha1.dataqualitysuite import Expectation


def _as_time(value: Any, *, column_is_date: bool) -> Any:
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value  # Great Expectations reports what it makes of it
    if column_is_date and len(value) == 10:
        return date(parsed.year, parsed.month, parsed.day)
    return parsed


def with_time_bounds(schema: StructType, expectation: Expectation) -> Expectation:
    """``expectation`` with its text bounds read as dates or times when its column holds them."""
    column = expectation.column
    if column is None or column not in schema.names:
        return expectation
    data_type = schema[column].dataType
    if not isinstance(data_type, DateType | TimestampType | TimestampNTZType):
        return expectation
    is_date = isinstance(data_type, DateType)
    update = {
        attr: _as_time(getattr(expectation, attr), column_is_date=is_date)
        for attr in ("min_value", "max_value")
    }
    return expectation.model_copy(update=update)
