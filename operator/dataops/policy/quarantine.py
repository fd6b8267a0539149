"""``onMalformed: Quarantine`` and classified columns do not go together. Pure.

Quarantine keeps a malformed csv/json record as it was read (the raw line), so it cannot be masked
column by column: a source with a column a DataPolicy classifies would keep that column's values in
clear under ``quarantinePath``. Such a source is refused (use Drop or Fail): before anything runs
when the source declares its schema (reconcile's InvalidPlan, ``dataops plan``, ``dataops run``),
otherwise when the run has inferred the schema, before a record is quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dataops.api.v1alpha1.datapipeline import MalformedPolicy, Source
from dataops.policy.masking import MaskingRule


def classified_columns(columns: Iterable[str], rules: Sequence[MaskingRule]) -> list[tuple[str, MaskingRule]]:
    """Each column a rule classifies, with the first such rule (exact name or whole-name pattern)."""
    found = []
    for column in columns:
        rule = next((r for r in rules if r.matches(column)), None)
        if rule is not None:
            found.append((column, rule))
    return found


def quarantine_refusal(source: str, columns: Iterable[str], rules: Sequence[MaskingRule]) -> str | None:
    """Why quarantining ``source`` (with ``columns``) would keep classified data in clear, or None."""
    classified = classified_columns(columns, rules)
    if not classified:
        return None
    names = ", ".join(column for column, _ in classified)
    policies = ", ".join(sorted({repr(rule.policy) for _, rule in classified}))
    plural = "s" if len(classified) > 1 else ""
    return (
        f"Quarantine keeps raw records, which would keep classified column{plural} {names} of source "
        f"{source!r} (DataPolicy {policies}) in clear; use Drop or Fail"
    )


def quarantine_refusals(sources: Sequence[Source], rules: Sequence[MaskingRule]) -> list[tuple[str, str]]:
    """(field path, message) per file source that quarantines and declares a classified column."""
    refused = []
    for index, source in enumerate(sources):
        spec = source.file
        if spec is None or spec.on_malformed != MalformedPolicy.QUARANTINE or not rules:
            continue
        why = quarantine_refusal(source.name, [c.name for c in spec.schema_], rules)
        if why is not None:
            refused.append((f"spec.sources[{index}].file.onMalformed", why))
    return refused
