"""Which columns a DataPolicy's piiColumns classify. Pure.

An entry names a column exactly or, with ``pattern: true``, by a regular expression that must match
the whole column name; both compare case-insensitively, as Spark resolves column names (and as
masking matches them). An entry whose pattern does not compile classifies nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dataops.api.v1alpha1.datapolicy import PiiColumn


def names_column(name: str, pattern: bool, column: str) -> bool:
    """Whether a piiColumns entry (``name``, ``pattern``) names ``column``: case-insensitively, as
    Spark resolves column names by default. One rule for classification and masking
    (:mod:`dataops.policy.masking`). Raises re.error when ``name`` is not a regular expression."""
    if pattern:
        return re.fullmatch(name, column, re.IGNORECASE) is not None
    return name.lower() == column.lower()


def classifying_entry(column: str, entries: Iterable[PiiColumn]) -> PiiColumn | None:
    """The first entry that classifies ``column``, or None."""
    for entry in entries:
        try:
            if names_column(entry.column, entry.pattern, column):
                return entry
        except re.error:
            continue
    return None


def unclassified(columns: Iterable[str], entries: Iterable[PiiColumn]) -> list[str]:
    """The columns no entry classifies, in order."""
    known = list(entries)
    return [c for c in columns if classifying_entry(c, known) is None]


def classified_columns(columns: Iterable[str], entries: Iterable[PiiColumn]) -> dict[str, str]:
    """The columns some entry classifies, with their classification."""
    rules = list(entries)
    found = {}
    for column in columns:
        entry = classifying_entry(column, rules)
        if entry is not None:
            found[column] = entry.classification.value
    return found
