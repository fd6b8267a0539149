"""Results of validating one suite, whichever engine computed them."""

from __future__ import annotations

from dataclasses import dataclass, field
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
