"""The text of a Spark failure as a run reports it: one line, without the data values in it.

Spark quotes the values a failure is about (``[CAST_INVALID_INPUT] The value 'alice@x.org' of the
type "STRING" ...``). A run's error travels into the summary, the termination message, the
pipeline's status, Events, lineage and the CLI, where a value of a classified column must never
appear, so every value Spark's messages can carry is replaced by ``<value>``:

- single-quoted literals (Spark's ``toSQLValue`` of strings, dates, timestamps, intervals);
- the bare value of ``The value <v> of the type`` (numbers: ``12345L``, ``1.5BD``);
- the number of ``NUMERIC_VALUE_OUT_OF_RANGE`` messages;
- the raw record of ``Malformed records are detected in record parsing: <record>``.

Identifiers (backquoted), types and configuration names (double-quoted) and error classes stay,
so the line still says what failed and where. Always applied: a message cannot tell which values
come from classified columns.
"""

from __future__ import annotations

import re

PLACEHOLDER = "<value>"

_QUOTED = re.compile(r"'(?:[^'\\\r\n]|\\.|'')*'")
_BARE_VALUE = re.compile(r"(?i)(\bthe value\s+)(?!'<value>')[^\s]+(\s+of the type)")
_OUT_OF_RANGE = re.compile(r"(NUMERIC_VALUE_OUT_OF_RANGE[^\]]*\]\s*)\S+(\s+cannot be represented)")
_MALFORMED = re.compile(r"(record parsing:\s*).*?(\.\s*Parse Mode\b|$)")


def scrub_values(text: str) -> str:
    """``text`` with every value a Spark message quotes replaced by ``<value>``."""
    text = _QUOTED.sub(f"'{PLACEHOLDER}'", text)
    text = _BARE_VALUE.sub(rf"\g<1>{PLACEHOLDER}\g<2>", text)
    text = _OUT_OF_RANGE.sub(rf"\g<1>{PLACEHOLDER}\g<2>", text)
    return _MALFORMED.sub(rf"\g<1>{PLACEHOLDER}\g<2>", text)


def failure_line(exc: BaseException) -> str:
    """The first line of what failed (the JVM's own exception for a Py4J error), values scrubbed."""
    text = ""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            text = str(java.toString())
        except Exception:  # a dead gateway: fall back to the Python side's text
            text = ""
    text = (text or str(exc)).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return scrub_values(line)
