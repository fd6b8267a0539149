"""Results of validating one suite, whichever engine computed them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass
class ExpectationOutcome:
    type: str
    column: str | None
    success: bool
    severity: str
    observed_value: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_sample: list[Any] = field(default_factory=list)
    engine: str = ""


@dataclass
class SuiteOutcome:
    results: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        """Only error-severity expectations decide the verdict; warnings are reported."""
        return all(r.success for r in self.results if r.severity == "error")

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]

    @property
    def success_percent(self) -> float:
        return 100.0 * sum(r.success for r in self.results) / len(self.results) if self.results else 100.0


def masked_value(classification: str) -> str:
    """What stands in a result for a value of a classified column."""
    return f"<masked {classification}>"


def protect_outcome(outcome: ExpectationOutcome, protected: Mapping[str, str]) -> ExpectationOutcome:
    """``outcome`` without values of a classified column (``protected``: column -> classification):
    unexpected samples and observed values (a min or max is a value) are replaced by placeholders;
    counts and percentages stay. Samples of multi-column checks are replaced whenever a column is
    protected (they may hold any column of a row)."""
    lowered = {c.lower(): k for c, k in protected.items()}
    if outcome.column is None:
        # multi-column checks (pairs, compound keys) sample whole rows: none of them is shown
        if not protected or not outcome.unexpected_sample:
            return outcome
        return replace(outcome, unexpected_sample=[masked_value("row") for _ in outcome.unexpected_sample])
    if outcome.column.lower() not in lowered:
        return outcome
    stand_in = masked_value(lowered[outcome.column.lower()])
    return replace(
        outcome,
        unexpected_sample=[None if v is None else stand_in for v in outcome.unexpected_sample],
        observed_value=None if outcome.observed_value is None else stand_in,
    )
