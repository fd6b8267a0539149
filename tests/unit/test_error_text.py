"""Spark's failure text without the values it carries (error_text.scrub_values)."""

from __future__ import annotations

import pytest

from dataops.runtime.error_text import failure_line, scrub_values


@pytest.mark.parametrize(
    ("message", "kept", "gone"),
    [
        (
            '[CAST_INVALID_INPUT] The value \'alice@x.org\' of the type "STRING" cannot be cast to "INT"',
            ["[CAST_INVALID_INPUT] The value '<value>' of the type \"STRING\"", '"INT"'],
            ["alice@x.org"],
        ),
        (
            '[CAST_OVERFLOW] The value 4111111111111111L of the type "BIGINT" cannot be cast to "INT"',
            ['The value <value> of the type "BIGINT"'],
            ["4111111111111111"],
        ),
        (
            "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  12345.67 cannot be represented as Decimal(4, 2).",
            ["NUMERIC_VALUE_OUT_OF_RANGE", "<value> cannot be represented", "Decimal(4, 2)"],
            ["12345.67"],
        ),
        (
            "[MALFORMED_RECORD_IN_PARSING.WITHOUT_SUGGESTION] Malformed records are detected in record "
            "parsing: [1,bob@y.org,null]. Parse Mode: FAILFAST.",
            ["record parsing: <value>. Parse Mode: FAILFAST"],
            ["bob@y.org"],
        ),
        (
            "[DATETIME_FIELD_OUT_OF_BOUNDS] Text '1987-06-15x' could not be parsed; column `dob` in `users`",
            ["column `dob` in `users`", "Text '<value>'"],
            ["1987-06-15x"],
        ),
        ("Job aborted: Lost task 0.0: [X] The value 'it''s me' of the type", ["'<value>'"], ["it", "me'"]),
    ],
)
def test_values_are_replaced_identifiers_kept(message: str, kept: list[str], gone: list[str]) -> None:
    scrubbed = scrub_values(message)
    for text in kept:
        assert text in scrubbed, scrubbed
    for text in gone:
        assert text not in scrubbed.replace("<value>", ""), scrubbed


def test_failure_line_is_the_first_line_scrubbed() -> None:
    class JavaSide:
        def toString(self) -> str:
            return "org.apache.spark.SparkNumberFormatException: The value 'secret' of the type\n\tat x"

    class Py4JLike(Exception):
        java_exception = JavaSide()

    assert failure_line(Py4JLike("python side")) == (
        "org.apache.spark.SparkNumberFormatException: The value '<value>' of the type"
    )
    assert failure_line(ValueError("a 'b'\nsecond line 'c'")) == "a '<value>'"
    assert failure_line(ValueError("")) == "ValueError"


def test_a_stopped_streaming_query_reports_its_failure_without_values() -> None:
    from dataops.runtime.streaming import _query_failure

    class StreamingQueryFailure(Exception):
        desc = (
            "[STREAM_FAILED] Query [id = 1] terminated with exception: [CAST_INVALID_INPUT] The value "
            "'bob@leak.test' of the type \"STRING\" cannot be cast to \"INT\"\n== SQL ==\n'bob@leak.test'"
        )

    line = _query_failure(StreamingQueryFailure())
    assert "bob@leak.test" not in line and "[CAST_INVALID_INPUT] The value '<value>'" in line
    assert _query_failure(ValueError("")) == "ValueError"
