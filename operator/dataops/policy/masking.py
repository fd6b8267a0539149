"""Which sink columns a DataPolicy masks, and how. Pure.

The rules come from the ``piiColumns`` of the policies that select a pipeline. A sink column is
masked when a rule names it (exact name or regular expression) or when column lineage traces it to
a source column a rule names (``upper(email) AS contact``, a join, ``SELECT *``). A column whose
derivation cannot be traced while some source column is classified is refused, never guessed.
When several rules apply to one column the strictest wins (:data:`STRICTNESS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel

from dataops.api.v1alpha1.common import SecretKeySelector
from dataops.api.v1alpha1.datapolicy import (
    KEYED_MASKING,
    DataPolicySpec,
    GeneralizeTo,
    MaskingMethod,
)
from dataops.lineage.columns import SourceColumn, trace_columns
from dataops.policy.classified import names_column

# Strictest first: nothing kept; presence kept; equality kept (irreversible); equality or the value
# for key holders; a coarse value; a suffix; everything.
STRICTNESS: tuple[MaskingMethod, ...] = (
    MaskingMethod.NULLIFY,
    MaskingMethod.REDACT,
    MaskingMethod.HASH,
    MaskingMethod.TOKENIZE,
    MaskingMethod.GENERALIZE,
    MaskingMethod.PARTIAL,
    MaskingMethod.NONE,
)
_GENERALIZE_STRICTNESS = {GeneralizeTo.YEAR: 0, GeneralizeTo.MONTH: 1}


class MaskingRule(BaseModel):
    """One ``piiColumns`` entry of one policy, as the run plan carries it (no secret values)."""

    policy: str
    column: str
    pattern: bool = False
    classification: str
    method: MaskingMethod
    keep_last: int = 4
    generalize_to: GeneralizeTo = GeneralizeTo.YEAR
    key: SecretKeySelector | None = None  # the Secret key behind hash and tokenize

    def matches(self, column: str) -> bool:
        """Exact names match case-insensitively (as Spark resolves them); patterns must match the
        whole column name, case-insensitively."""
        return names_column(self.column, self.pattern, column)

    @property
    def needs_key(self) -> bool:
        return self.method in KEYED_MASKING

    def describe(self) -> str:
        """The method with its parameter, e.g. ``partial(keepLast=4)``."""
        if self.method == MaskingMethod.PARTIAL:
            return f"partial(keepLast={self.keep_last})"
        if self.method == MaskingMethod.GENERALIZE:
            return f"generalize(to={self.generalize_to.value})"
        return self.method.value

    def origin(self) -> str:
        kind = "pattern" if self.pattern else "column"
        return f"DataPolicy {self.policy!r} {kind} {self.column!r} ({self.classification})"


def masking_rules(policies: Iterable[tuple[str, DataPolicySpec]]) -> list[MaskingRule]:
    """The rules of the selecting policies, by policy name then in declaration order. Raises
    ValueError naming the policy when a pattern is not a regular expression."""
    rules = []
    for name, spec in sorted(policies, key=lambda p: p[0]):
        for index, pii in enumerate(spec.pii_columns):
            if pii.pattern:
                try:
                    re.compile(pii.column)
                except re.error as exc:
                    raise ValueError(
                        f"DataPolicy {name!r}: spec.piiColumns[{index}].column {pii.column!r} "
                        f"is not a valid regular expression: {exc}"
                    ) from exc
        key = (
            SecretKeySelector(name=spec.masking_key.secret_name, key=spec.masking_key.key)
            if spec.masking_key is not None
            else None
        )
        for pii in spec.pii_columns:
            rules.append(
                MaskingRule(
                    policy=name,
                    column=pii.column,
                    pattern=pii.pattern,
                    classification=pii.classification.value,
                    method=pii.masking,
                    keep_last=pii.keep_last,
                    generalize_to=pii.generalize_to,
                    key=key if pii.masking in KEYED_MASKING else None,
                )
            )
    return rules


def strictness(rule: MaskingRule) -> tuple[int, int, str, str]:
    """Sort key: lower is stricter. Ties: fewer characters kept, coarser dates, then policy order."""
    detail = 0
    if rule.method == MaskingMethod.PARTIAL:
        detail = rule.keep_last
    elif rule.method == MaskingMethod.GENERALIZE:
        detail = _GENERALIZE_STRICTNESS[rule.generalize_to]
    return (STRICTNESS.index(rule.method), detail, rule.policy, rule.column)


def strictest(rules: Iterable[MaskingRule]) -> MaskingRule:
    return min(rules, key=strictness)


@dataclass(frozen=True)
class ColumnMasking:
    """What happens to one sink column, and why."""

    column: str
    rule: MaskingRule
    sources: list[SourceColumn] = field(default_factory=list)  # the classified source columns it derives from
    named: bool = False  # a rule names the sink column itself

    @property
    def masked(self) -> bool:
        return self.rule.method != MaskingMethod.NONE

    def reason(self) -> str:
        """Names and classifications only, never values."""
        why = []
        if self.named:
            why.append("named by a rule")
        if self.sources:
            why.append("derived from " + ", ".join(f"{s}.{c}" for s, c in self.sources))
        return f"{self.rule.describe()} by {self.rule.origin()}; {' and '.join(why)}"


class UnresolvedDerivation(ValueError):
    """A sink column may carry classified data but its derivation cannot be traced."""

    def __init__(self, sink: str, column: str, why: str) -> None:
        super().__init__(
            f"sink {sink!r}: column {column!r} cannot be traced to its sources ({why}) while a DataPolicy "
            "classifies source columns; refusing to write it. Name the column in a piiColumns rule "
            "or write the SQL so its derivation can be followed"
        )
        self.sink = sink
        self.column = column


def plan_columns(
    *,
    rules: list[MaskingRule],
    sink: str,
    output_columns: list[str],
    from_: str,
    steps: dict[str, str],
    source_columns: dict[str, list[str]],
    refuse_unresolved: bool = True,
) -> dict[str, ColumnMasking]:
    """The masking of each column of ``from_`` that a rule covers (columns not in the result are
    written as they are). Raises :class:`UnresolvedDerivation` for a column that cannot be traced
    while a source column is classified and no rule names the column itself; with
    ``refuse_unresolved=False`` such a column gets the strictest rule of any classified source column
    instead (for protecting samples, not for writing)."""
    if not rules:
        return {}
    classified: dict[SourceColumn, list[MaskingRule]] = {}
    for source, columns in source_columns.items():
        for column in columns:
            found = [r for r in rules if r.matches(column)]
            if found:
                classified[(source.lower(), column.lower())] = found
    traced = (
        trace_columns(output_columns=output_columns, from_=from_, steps=steps, source_columns=source_columns)
        if classified
        else None
    )
    decisions: dict[str, ColumnMasking] = {}
    for column in output_columns:
        named = [r for r in rules if r.matches(column)]
        via: list[SourceColumn] = []
        derived: list[MaskingRule] = []
        if traced is not None:
            if column in traced.unresolved and not named:
                if refuse_unresolved:
                    raise UnresolvedDerivation(sink, column, traced.unresolved[column])
                derived = [r for found in classified.values() for r in found]
            for source, source_column in traced.sources.get(column, []):
                found = classified.get((source.lower(), source_column.lower()), [])
                if found:
                    via.append((source, source_column))
                    derived += found
        if named or derived:
            decisions[column] = ColumnMasking(
                column=column, rule=strictest([*named, *derived]), sources=via, named=bool(named)
            )
    return decisions


def keys_needed(rules: Iterable[MaskingRule]) -> list[SecretKeySelector]:
    """The Secret keys the rules need, each once, in a stable order."""
    found = {(r.key.name, r.key.key): r.key for r in rules if r.needs_key and r.key is not None}
    return [found[k] for k in sorted(found)]
