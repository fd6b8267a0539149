"""Settings, subset comparison for applies, lease expiry, resource paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dataops.kube.apply import is_subset
from dataops.kube.client import CONFIG_MAP, DATA_PIPELINE, NAMESPACE
from dataops.kube.lease import lease_expired
from dataops.metrics import error_kind
from dataops.settings import Settings


def test_settings_from_env() -> None:
    s = Settings.from_env(
        {
            "DATAOPS_RESYNC_SECONDS": "2.5",
            "DATAOPS_METRICS_PORT": "0",
            "DATAOPS_LEADER_ELECTION": "true",
            "DATAOPS_NAMESPACE": "team-a",
        }
    )
    assert (s.resync_seconds, s.metrics_port, s.leader_election, s.namespace) == (2.5, 0, True, "team-a")
    assert Settings.from_env({}) == Settings()


def test_is_subset() -> None:
    live = {"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}, "uid": "u"}, "data": {"k": "v"}}
    assert is_subset({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v"}}, live)
    assert not is_subset({"data": {"k": "w"}}, live)
    assert not is_subset({"data": {"k2": "v"}}, live)
    assert is_subset({"l": [{"a": 1}]}, {"l": [{"a": 1, "b": 2}]})
    assert not is_subset({"l": [{"a": 1}]}, {"l": [{"a": 1}, {"a": 2}]})


def test_lease_expiry() -> None:
    now = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert lease_expired({"renewTime": "2026-01-01T00:00:10.000000Z", "leaseDurationSeconds": 15}, now)
    assert not lease_expired({"renewTime": "2026-01-01T00:00:20.000000Z", "leaseDurationSeconds": 15}, now)
    assert lease_expired({}, now)


def test_resource_paths() -> None:
    assert CONFIG_MAP.path("ns", "x") == "/api/v1/namespaces/ns/configmaps/x"
    assert (
        DATA_PIPELINE.path("ns", "p", "status")
        == "/apis/dataops.dev/v1alpha1/namespaces/ns/datapipelines/p/status"
    )
    assert DATA_PIPELINE.path() == "/apis/dataops.dev/v1alpha1/datapipelines"
    assert NAMESPACE.path("ignored", "n") == "/api/v1/namespaces/n"


def test_error_kind_is_bounded() -> None:
    class Api(Exception):
        status = 503

    assert error_kind(Api()) == "api_5xx"
    assert error_kind(ValueError()) == "internal"


def test_run_accepts_several_files_after_one_flag_and_the_summary_shows_spark_start_up() -> None:
    """Issue 12: `-f a b` was refused (only `-f a -f b` worked); the summary's time left out the
    Spark start-up the user waited for."""
    from datetime import UTC, datetime, timedelta

    from dataops.cli import build_parser
    from dataops.runtime.summary import RunSummary

    args = build_parser().parse_args(["run", "-f", "pipeline.yaml", "suite.yaml", "-f", "policy.yaml"])
    assert args.filename == ["pipeline.yaml", "suite.yaml", "policy.yaml"]
    started = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    summary = RunSummary("p", "r1", started, finished=started + timedelta(seconds=53), outcome="Succeeded")
    summary.spark_start_seconds = 31.0
    assert "run r1: Succeeded in 53.0s (84.0s with 31.0s of Spark start-up)" in summary.render_table()
    assert summary.to_json()["sparkStartSeconds"] == 31.0


def test_a_gate_whose_suite_is_not_given_fails_before_spark_starts() -> None:
    """Issue 12: `dataops run -f examples/03-orders-pipeline.yaml` computed every sink, then failed
    on the gate whose suite lives in another file. It now fails at once, naming the gate and suite."""
    import contextlib
    import io
    import time

    from dataops.cli import main
    from tests.conftest import EXAMPLES

    err = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["run", "-f", str(EXAMPLES / "03-orders-pipeline.yaml")])
    assert code == 2 and time.monotonic() - started < 5  # no Spark
    assert "quality gate 0 (orders-quality): DataQualitySuite not found" in err.getvalue()


@pytest.mark.parametrize(
    ("next_offsets", "ranges", "lows", "lost", "after"),
    [
        ({}, {0: (0, 99)}, {}, 0, {0: 100}),  # nothing to compare with yet
        ({0: 100}, {0: (100, 149)}, {0: 0}, 0, {0: 150}),  # read on where it stopped
        ({0: 100}, {0: (130, 149)}, {0: 130}, 30, {0: 150}),  # 100..129 deleted before read
        ({0: 100}, {0: (110, 149)}, {0: 0}, 0, {0: 150}),  # a gap the topic still covers: no loss
        ({0: 100}, {}, {0: 130}, 30, {0: 130}),  # deleted, nothing new yet: counted once
        ({0: 130}, {0: (130, 131)}, {0: 130}, 0, {0: 132}),  # ... and not again
        ({0: 100, 1: 7}, {1: (9, 9)}, {0: 100, 1: 9}, 2, {0: 100, 1: 10}),
        ({0: 100}, {0: (120, 125)}, {0: 140}, 20, {0: 126}),  # low moved past what the batch read
    ],
)
def test_lost_offsets_counts_only_what_the_topic_no_longer_holds(
    next_offsets: dict[int, int],
    ranges: dict[int, tuple[int, int]],
    lows: dict[int, int],
    lost: int,
    after: dict[int, int],
) -> None:
    from dataops.runtime.stream_loss import lost_offsets

    assert lost_offsets(next_offsets, ranges, lows) == (lost, after)


@pytest.mark.parametrize(
    ("terminated", "message"),
    [
        ({"exitCode": 0, "message": '{"outcome": "Succeeded"}'}, '{"outcome": "Succeeded"}'),
        ({"exitCode": 1, "reason": "Error"}, "Error (exit code 1)"),
        ({"exitCode": 137, "reason": "OOMKilled"}, "OOMKilled (exit code 137)"),
        ({"exitCode": 2, "reason": "Error", "message": "error: step 'x': boom"}, "error: step 'x': boom"),
        ({"exitCode": 0, "reason": "Completed"}, "Completed"),
    ],
)
def test_driver_and_validation_pods_read_termination_messages_alike(
    terminated: dict[str, object], message: str
) -> None:
    """One reading of a terminated container for drivers (scheduling) and validation pods."""
    from dataops.plan.pods import container_termination
    from dataops.plan.scheduling import driver_state_from_pod
    from dataops.plan.validation import validator_state_from_pod

    status = {
        "phase": "Failed",
        "containerStatuses": [
            {"state": {"terminated": {**terminated, "finishedAt": "2026-11-26T10:00:00Z"}}}
        ],
    }
    found = container_termination(status)
    assert found is not None and found.message == message and found.finished == "2026-11-26T10:00:00Z"
    labels = {
        "dataops.dev/run-id": "r-1",
        "dataops.dev/attempt": "1",
        "app.kubernetes.io/managed-by": "dataops-operator",
    }
    pod = {"metadata": {"name": "p", "labels": labels}, "status": status}
    validator = validator_state_from_pod(pod)
    assert validator is not None and validator.message == message
    driver = driver_state_from_pod(pod)
    assert driver is not None and driver.message == message
