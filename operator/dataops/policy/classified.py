"""Which columns a DataPolicy's piiColumns classify. Pure.

An entry names a column exactly (compared case-insensitively, as Spark resolves column names) or,
with ``pattern: true``, by a regular expression that must match the whole column name, also
case-insensitively (as masking matches it). An entry whose pattern does not compile classifies
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dataops.api.v1alpha1.datapolicy import PiiColumn


def classifying_entry(column: str, entries: Iterable[PiiColumn]) -> PiiColumn | None:
    """The first entry that classifies ``column``, or None."""
    for entry in entries:
        if entry.pattern:
            try:
                if re.fullmatch(entry.column, column, re.IGNORECASE):
                    return entry
            except re.error:
                continue
        elif entry.column.lower() == column.lower():
            return entry
    return None


def unclassified(columns: Iterable[str], entries: Iterable[PiiColumn]) -> list[str]:
    """The columns no entry classifies, in order."""
    known = list(entries)
    return [c for c in columns if classifying_entry(c, known) is None]
