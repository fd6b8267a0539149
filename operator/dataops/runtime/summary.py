"""The summary of one run: what was read and written, how long it took, how it ended."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass
class RunSummary:
    pipeline: str
    run_id: str
    started: datetime
    finished: datetime | None = None
    outcome: str = "Running"
    error: str | None = None
    rows_read: dict[str, int | None] = field(default_factory=dict)
    rows_written: dict[str, int | None] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    quarantine: dict[str, str] = field(default_factory=dict)  # sink -> staged data a failed gate kept
    masked: dict[str, dict[str, str]] = field(default_factory=dict)  # sink -> column -> method and why
    retention: dict[str, dict[str, object]] = field(default_factory=dict)  # sink -> what retention removed
    merged: dict[str, dict[str, int]] = field(default_factory=dict)  # merge sink -> inserted, updated, ...
    published: list[str] = field(default_factory=list)  # sinks this run published, in order
    quarantined: list[dict[str, str]] = field(default_factory=list)  # earlier runs' quarantine still kept
    malformed: dict[str, dict[str, object]] = field(
        default_factory=dict
    )  # source -> policy, rows, quarantine
    # columns written that look like personal data but no DataPolicy classifies (names and ratios only)
    unclassified_pii: list[dict[str, object]] = field(default_factory=list)
    models: dict[str, dict[str, object]] = field(default_factory=dict)  # model step -> version, metrics
    spark_start_seconds: float | None = None  # starting the Spark session, before the run's clock

    @classmethod
    def failed(cls, pipeline: str, run_id: str, error: str) -> RunSummary:
        """A run that failed before it started (bad plan, unreachable source, ...)."""
        now = datetime.now(UTC)
        return cls(pipeline=pipeline, run_id=run_id, started=now, finished=now, outcome="Failed", error=error)

    @property
    def duration_seconds(self) -> float:
        end = self.finished or self.started
        return (end - self.started).total_seconds()

    def to_json(self) -> dict[str, object]:
        return {
            "pipeline": self.pipeline,
            "runId": self.run_id,
            "outcome": self.outcome,
            "error": self.error,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "durationSeconds": round(self.duration_seconds, 3),
            **(
                {"sparkStartSeconds": round(self.spark_start_seconds, 3)}
                if self.spark_start_seconds is not None
                else {}
            ),
            "rowsRead": self.rows_read,
            "rowsWritten": self.rows_written,
            "published": self.published,
            "warnings": self.warnings,
            "quarantine": self.quarantine,
            **({"masked": self.masked} if self.masked else {}),
            "retention": self.retention,
            **({"merged": self.merged} if self.merged else {}),
            **({"malformed": self.malformed} if self.malformed else {}),
            **({"quarantined": self.quarantined} if self.quarantined else {}),
            "unclassifiedPii": self.unclassified_pii,
            **({"models": self.models} if self.models else {}),
        }

    def termination_message(self, limit: int = 4000) -> str:
        """The JSON the operator reads from the driver's termination message, within ``limit``:
        free-text warnings go first, then the per-sink details, so what is left still parses."""
        full = self.to_json()
        text = json.dumps(full)
        if len(text) <= limit:
            return text
        if self.masked:  # the reasons may go; which columns were masked stays as long as possible
            full["masked"] = {sink: sorted(columns) for sink, columns in self.masked.items()}
        for drop in ((), ("warnings",), ("warnings", "quarantine"), ("warnings", "quarantine", "error")):
            text = json.dumps({k: v for k, v in full.items() if k not in drop})
            if len(text) <= limit:
                return text
        keep = ("pipeline", "runId", "outcome", "rowsRead", "rowsWritten")
        return json.dumps({k: full[k] for k in keep})[:limit]

    def render_table(self) -> str:
        rows: list[tuple[str, str, str]] = [("dataset", "direction", "rows")]
        rows += [(name, "read", _fmt(n)) for name, n in self.rows_read.items()]
        rows += [(name, "written", _fmt(n)) for name, n in self.rows_written.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        lines.append("")
        took = f"{self.duration_seconds:.1f}s"
        if self.spark_start_seconds is not None:
            total = self.duration_seconds + self.spark_start_seconds
            took += f" ({total:.1f}s with {self.spark_start_seconds:.1f}s of Spark start-up)"
        lines.append(f"run {self.run_id}: {self.outcome} in {took}")
        if self.error:
            lines.append(f"error: {self.error}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        lines.extend(f"quarantine: {sink} -> {where}" for sink, where in self.quarantine.items())
        lines.extend(
            f"kept quarantine: {q['sink']} -> {q['path']} (since {q['since']})" for q in self.quarantined
        )
        lines.extend(
            f"masked: {sink}.{column}: {why}"
            for sink, columns in self.masked.items()
            for column, why in columns.items()
        )
        lines.extend(f"retention: {sink}: {_removed(done)}" for sink, done in self.retention.items())
        lines.extend(f"merged: {sink}: {_merged(done)}" for sink, done in self.merged.items())
        lines.extend(
            f"malformed: {source}: {found['rows']:,} record(s) (onMalformed: {found['policy']})"
            for source, found in self.malformed.items()
            if found["rows"]
        )
        lines.extend(f"model: {step}: {_model_line(done)}" for step, done in self.models.items())
        return "\n".join(lines)


def _fmt(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _removed(done: dict[str, object]) -> str:
    what = (
        f"{done['rowsDeleted']} row(s) deleted"
        if "rowsDeleted" in done
        else f"{done.get('partitionsDropped', 0)} partition(s) dropped"
    )
    text = f"{what} older than {done['cutoff']} ({done['column']}, {done['days']} days)"
    return f"{text}; failed: {done['error']}" if done.get("error") else text


def _merged(done: dict[str, int]) -> str:
    text = f"{done['inserted']:,} inserted, {done['updated']:,} updated"
    if done.get("superseded"):
        text += f", {done['superseded']:,} of the run's rows superseded (duplicates or older rows of a key)"
    if "tableRows" in done:
        text += f"; the table has {done['tableRows']:,} rows"
    return text


def _model_line(done: dict[str, object]) -> str:
    metrics = done.get("metrics")
    shown = ", ".join(f"{k}={v}" for k, v in metrics.items()) if isinstance(metrics, dict) else ""
    where = f"{done.get('version')} at {done.get('location')}" if done.get("version") else "not saved"
    return f"{where}; {shown}"
