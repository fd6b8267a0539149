"""Data freshness of a pipeline's sinks: when each was last published, and whether that is within
the sink's maxAgeSeconds (its freshness SLO). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    PipelineMode,
    RunOutcome,
    RunRecord,
    StreamingStatus,
)
from dataops.status.conditions import DesiredCondition, false, true, unknown


@dataclass(frozen=True)
class SinkFreshness:
    sink: str
    max_age_seconds: int
    last_publish: datetime | None
    fresh: bool | None  # None: never published, and the pipeline is younger than the max age
    stale_at: datetime  # when it is stale unless published again


def newest_success(runs: list[RunRecord]) -> RunRecord | None:
    done = [r for r in runs if r.outcome == RunOutcome.SUCCEEDED and r.completion_time is not None]
    return max(done, key=lambda r: r.completion_time or datetime.min, default=None)


def last_publish(
    spec: DataPipelineSpec, runs: list[RunRecord], streaming: StreamingStatus | None
) -> datetime | None:
    """A successful batch run published every sink (write-audit-publish: all or none); a running
    streaming job publishes with every micro-batch."""
    newest = newest_success(runs)
    published = newest.completion_time if newest is not None else None
    batch = streaming.last_batch_time if streaming is not None and streaming.state == "Running" else None
    if spec.mode == PipelineMode.STREAMING and batch is not None and (published is None or batch > published):
        published = batch
    return published


def sink_freshness(
    spec: DataPipelineSpec,
    runs: list[RunRecord],
    streaming: StreamingStatus | None,
    *,
    created: datetime,
    now: datetime,
) -> list[SinkFreshness]:
    """The sinks with a maxAgeSeconds; a sink never published counts from the pipeline's creation."""
    published = last_publish(spec, runs, streaming)
    found = []
    for sink in spec.sinks:
        if sink.max_age_seconds is None:
            continue
        since = published or created
        stale_at = since + timedelta(seconds=sink.max_age_seconds)
        fresh = now < stale_at if published is not None or now >= stale_at else None
        found.append(SinkFreshness(sink.name, sink.max_age_seconds, published, fresh, stale_at))
    return found


def finished_runs(status: DataPipelineStatus) -> list[RunRecord]:
    return [*status.history, *([status.last_run] if status.last_run is not None else [])]


def freshness_of(
    spec: DataPipelineSpec, status: DataPipelineStatus, created: datetime, now: datetime
) -> list[SinkFreshness]:
    return sink_freshness(spec, finished_runs(status), status.streaming, created=created, now=now)


def freshness_condition(sinks: list[SinkFreshness]) -> DesiredCondition | None:
    """Fresh: True when every sink with a maxAgeSeconds was published within it, False naming the
    stale ones, Unknown while one was never published and its max age has not passed yet. None
    (no condition) when no sink has a maxAgeSeconds."""
    if not sinks:
        return None
    stale = [s for s in sinks if s.fresh is False]
    if stale:
        parts = [
            f"{s.sink}: last published {s.last_publish.isoformat()}, maxAgeSeconds {s.max_age_seconds}"
            if s.last_publish is not None
            else f"{s.sink}: never published, maxAgeSeconds {s.max_age_seconds}"
            for s in stale
        ]
        return false(ConditionType.FRESH, Reason.DATA_STALE, "; ".join(parts)[:4096])
    waiting = [s.sink for s in sinks if s.fresh is None]
    if waiting:
        return unknown(
            ConditionType.FRESH, Reason.NOT_YET_PUBLISHED, f"not published yet: {', '.join(waiting)}"
        )
    names = ", ".join(s.sink for s in sinks)
    return true(ConditionType.FRESH, Reason.DATA_FRESH, f"published within maxAgeSeconds: {names}")
