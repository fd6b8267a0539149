"""Anomaly checks of a suite against its own history. Pure: metrics in, outcomes out.

Each check becomes an outcome like an expectation's (type ``anomaly:<kind>``), so verdicts,
reports, status and lineage treat both alike. With no history yet a check passes and says so.
"""

from __future__ import annotations

from datetime import datetime
from statistics import fmean

from dataops.api.v1alpha1.dataqualitysuite import AnomalyCheck, AnomalyKind, DatasetMetrics
from dataops.quality.results import ExpectationOutcome


def _outcome(check: AnomalyCheck, success: bool, observed: str) -> ExpectationOutcome:
    return ExpectationOutcome(
        type=f"anomaly:{check.type.value}",
        column=check.column,
        success=success,
        severity=check.severity.value,
        observed_value=observed,
        engine="anomaly",
    )


def _row_count_change(
    check: AnomalyCheck, current: DatasetMetrics, past: list[DatasetMetrics]
) -> ExpectationOutcome:
    baseline = fmean(m.row_count for m in past)
    if baseline == 0:
        change = 0.0 if current.row_count == 0 else float("inf")
    else:
        change = abs(current.row_count - baseline) / baseline
    return _outcome(
        check,
        change <= check.threshold,
        f"{current.row_count} rows vs mean {baseline:.1f} of {len(past)} runs: change {change:.1%}",
    )


def _freshness(check: AnomalyCheck, current: DatasetMetrics, now: datetime) -> ExpectationOutcome:
    assert check.column is not None
    newest = current.newest.get(check.column)
    if newest is None:
        return _outcome(check, False, f"no timestamp values in {check.column}")
    age = (now - newest).total_seconds()
    return _outcome(
        check,
        age <= check.threshold,
        f"newest {newest.isoformat()} is {age:.0f}s old (max {check.threshold:g}s)",
    )


def _schema_drift(
    current: DatasetMetrics, previous: DatasetMetrics | None, check: AnomalyCheck
) -> ExpectationOutcome:
    if previous is None or not previous.schema_hash or previous.schema_hash == current.schema_hash:
        return _outcome(check, True, "schema unchanged")
    if previous.columns is None or current.columns is None:
        return _outcome(check, False, "schema changed since the last run")
    before = dict(c.split(":", 1) for c in previous.columns)
    after = dict(c.split(":", 1) for c in current.columns)
    changes = [f"+{n}:{t}" for n, t in after.items() if n not in before]
    changes += [f"-{n}:{t}" for n, t in before.items() if n not in after]
    changes += [f"{n}:{before[n]}->{t}" for n, t in after.items() if n in before and before[n] != t]
    return _outcome(
        check, not changes, "schema changed: " + ", ".join(changes) if changes else "column order changed"
    )


def _distribution_shift(
    check: AnomalyCheck, current: DatasetMetrics, past: list[DatasetMetrics]
) -> ExpectationOutcome:
    assert check.column is not None
    now = current.distributions.get(check.column)
    history = [m.distributions[check.column] for m in past if check.column in m.distributions]
    if now is None or now.p05 is None or now.p50 is None or now.p95 is None:
        return _outcome(check, False, f"no numeric values in {check.column}")
    if not history:
        return _outcome(check, True, "no history of this column yet")
    base = {
        q: fmean(getattr(d, q) for d in history if getattr(d, q) is not None) for q in ("p05", "p50", "p95")
    }
    spread = base["p95"] - base["p05"] or abs(base["p50"]) or 1.0
    shifts = {q: abs(getattr(now, q) - base[q]) / spread for q in base}
    worst = max(shifts, key=lambda q: shifts[q])
    return _outcome(
        check,
        shifts[worst] <= check.threshold,
        f"{worst} {getattr(now, worst):g} vs {base[worst]:g} over {len(history)} runs: "
        f"shift {shifts[worst]:.2f} of the 5-95 spread",
    )


def evaluate(
    checks: list[AnomalyCheck], current: DatasetMetrics, history: list[DatasetMetrics], *, now: datetime
) -> list[ExpectationOutcome]:
    """``history`` is newest first (as in the suite's status)."""
    outcomes = []
    for check in checks:
        past = history[: check.lookback_runs]
        if check.type == AnomalyKind.FRESHNESS:
            outcomes.append(_freshness(check, current, now))
        elif check.type == AnomalyKind.SCHEMA_DRIFT:
            outcomes.append(_schema_drift(current, history[0] if history else None, check))
        elif not past:
            outcomes.append(_outcome(check, True, "no history yet"))
        elif check.type == AnomalyKind.ROW_COUNT_CHANGE:
            outcomes.append(_row_count_change(check, current, past))
        else:
            outcomes.append(_distribution_shift(check, current, past))
    return outcomes
