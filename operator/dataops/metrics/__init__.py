"""Prometheus metrics of the operator. Labels are bounded: kind, result, error kind; never object names."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily

RECONCILES = Counter("dataops_reconcile_total", "Reconciles by kind and result", ["kind", "result"])
RECONCILE_ERRORS = Counter(
    "dataops_reconcile_errors_total", "Failed reconciles by kind and error kind", ["kind", "error"]
)
RECONCILE_SECONDS = Histogram(
    "dataops_reconcile_duration_seconds",
    "Wall time of one reconcile",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STATUS_WRITES = Counter("dataops_status_writes_total", "Status subresource writes", ["kind"])
CHILD_WRITES = Counter("dataops_child_applies_total", "Server-side applies of child objects", ["kind"])
EVENTS = Counter("dataops_events_total", "Kubernetes Events recorded", ["kind", "type"])
RUN_EVENTS = Counter(
    "dataops_run_events_total",
    "Run lifecycle events (RunStarted, RunSucceeded, RunAttemptFailed, RunFailed, RunTimedOut, ...)",
    ["reason"],
)
QUALITY_VALIDATIONS = Counter(
    "dataops_quality_validations_total",
    "Standalone suite validations by outcome (passed, failed, error)",
    ["outcome"],
)
QUALITY_FAILED_EXPECTATIONS = Counter(
    "dataops_quality_failed_expectations_total",
    "Failed expectations and anomaly checks of standalone validations, by severity",
    ["severity"],
)
QUALITY_VALIDATION_SECONDS = Histogram(
    "dataops_quality_validation_duration_seconds",
    "Wall time of a validation as the validator measured it",
    buckets=(1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
for _outcome in ("passed", "failed", "error"):  # a series that appears at 1 has no increase()
    QUALITY_VALIDATIONS.labels(_outcome)
for _reason in ("RunStarted", "RunSucceeded", "RunAttemptFailed", "RunFailed", "RunTimedOut"):
    RUN_EVENTS.labels(_reason)
IS_LEADER = Gauge("dataops_leader", "1 while this replica holds the leader lease")


def error_kind(exc: BaseException) -> str:
    """A bounded label for an exception."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        return f"api_{status // 100}xx" if status not in (404, 409, 422) else f"api_{status}"
    return type(exc).__name__ if type(exc).__module__.startswith("dataops") else "internal"


class _ApiRequestCollector:
    """``dataops_api_requests_total{verb}``: the requests the operator's own client sent to the API
    server (kopf's watches are not counted). Read at scrape time from the client's counter."""

    def __init__(self) -> None:
        self.counts: Callable[[], Mapping[str, int]] = dict

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "dataops_api_requests", "Requests the operator's client sent to the API server", labels=["verb"]
        )
        for verb, count in sorted(self.counts().items()):
            family.add_metric([verb], count)
        yield family


_API_REQUESTS = _ApiRequestCollector()
REGISTRY.register(_API_REQUESTS)


def count_api_requests(counts: Callable[[], Mapping[str, int]]) -> None:
    """Expose ``counts`` (verb -> requests so far) as ``dataops_api_requests_total``."""
    _API_REQUESTS.counts = counts
