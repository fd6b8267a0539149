"""From engine outcomes to the ValidationResult the suite's status shows. Pure."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from dataops.api.v1alpha1.dataqualitysuite import (
    DatasetMetrics,
    FailedExpectation,
    Severity,
    ValidationResult,
)
from dataops.quality.results import SuiteOutcome

TERMINATION_MESSAGE_LIMIT = 3900  # the kubelet keeps 4096 bytes of a termination message


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_expectation(outcome: Any) -> FailedExpectation:
    observed = outcome.observed_value
    if observed is None and outcome.unexpected_count is not None:
        observed = f"{outcome.unexpected_count} unexpected ({outcome.unexpected_percent or 0:.2f}%)"
    return FailedExpectation(
        type=outcome.type,
        column=outcome.column,
        severity=Severity(outcome.severity),
        observed_value=None if observed is None else _text(observed, 1024),
        unexpected_sample=[_text(v, 256) for v in outcome.unexpected_sample[:20]],
    )


def to_result(
    outcome: SuiteOutcome,
    *,
    run_id: str,
    time: datetime,
    duration_seconds: float,
    metrics: DatasetMetrics | None,
    report_path: str | None,
) -> ValidationResult:
    failed = outcome.failed
    return ValidationResult(
        run_id=run_id,
        time=time,
        success=outcome.success,
        success_percent=round(outcome.success_percent, 2),
        evaluated=len(outcome.results),
        failed=len(failed),
        failed_expectations=[failed_expectation(o) for o in failed[:50]],
        report_path=report_path,
        duration_seconds=round(duration_seconds, 3),
        metrics=metrics,
    )


def error_result(*, run_id: str, time: datetime, error: str) -> ValidationResult:
    return ValidationResult(
        run_id=run_id, time=time, success=False, success_percent=0, evaluated=0, failed=0, error=error[:2048]
    )


def compact_json(result: ValidationResult, limit: int = TERMINATION_MESSAGE_LIMIT) -> str:
    """The result as JSON within ``limit`` bytes: samples, then schema, then failures are trimmed."""
    text = json.dumps(result.to_json(), separators=(",", ":"))
    trimmed = result
    while len(text.encode()) > limit:
        failed = trimmed.failed_expectations
        longest = max((len(f.unexpected_sample) for f in failed), default=0)
        if longest:  # samples go first: down to two values each, then none
            keep = 2 if longest > 2 else 0
            failed = [f.model_copy(update={"unexpected_sample": f.unexpected_sample[:keep]}) for f in failed]
            trimmed = trimmed.model_copy(update={"failed_expectations": failed})
        elif trimmed.metrics is not None and trimmed.metrics.columns is not None:
            trimmed = trimmed.model_copy(
                update={"metrics": trimmed.metrics.model_copy(update={"columns": None})}
            )
        elif failed:
            trimmed = trimmed.model_copy(update={"failed_expectations": failed[: len(failed) // 2]})
        else:
            raise ValueError("a validation result without failures does not fit a termination message")
        text = json.dumps(trimmed.to_json(), separators=(",", ":"))
    return text


def for_history(result: ValidationResult) -> ValidationResult:
    """A history entry: counts and metrics, without failure details or the column list."""
    metrics = result.metrics.model_copy(update={"columns": None}) if result.metrics else None
    return result.model_copy(update={"failed_expectations": [], "metrics": metrics})
