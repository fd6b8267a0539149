"""The reconcile work queue: dedupe, one worker per key, delayed adds, shutdown; and the fan-outs
that use it (issue 11 defect 9: bulk changes used to cost a reconcile per event, quadratic)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

from dataops.handlers.runner import Reconciler, retry_delay
from dataops.handlers.workqueue import WorkQueue
from dataops.kube.client import KubeError
from tests.unit.fake_kube import FakeKube


def test_a_waiting_key_is_added_once_and_verify_flags_combine() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for _ in range(100):
        queue.add("a")
    queue.add("b")
    queue.add("a", verify=True)
    assert len(queue) == 2
    assert queue.get() == ("a", True)
    queue.done("a")
    assert queue.get() == ("b", False)


def test_a_key_added_while_processing_runs_again_after_and_never_concurrently() -> None:
    queue: WorkQueue[str] = WorkQueue()
    running: Counter[str] = Counter()
    overlap: list[str] = []
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def handle(key: str, _verify: bool) -> None:
        with lock:
            running[key] += 1
            if running[key] > 1:
                overlap.append(key)
        time.sleep(0.01)
        with lock:
            running[key] -= 1
            handled[key] += 1

    queue.start_workers(4, handle)
    for round_ in range(50):
        queue.add(f"k{round_ % 3}")
        time.sleep(0.002)
    assert queue.join(timeout=10)
    queue.shutdown()
    assert overlap == []
    assert set(handled) == {"k0", "k1", "k2"} and sum(handled.values()) < 50  # deduplicated


def test_background_keys_wait_behind_the_others_but_not_for_ever() -> None:
    queue: WorkQueue[str] = WorkQueue(background_max_wait=0.2)
    queue.add("phase-1", background=True)
    queue.add("phase-2", background=True)
    queue.add("launch-1")
    queue.add("launch-2")
    assert len(queue) == 4
    assert [queue.get(), queue.get()] == [("launch-1", False), ("launch-2", False)]
    assert queue.get() == ("phase-1", False)  # nothing else waits: served at once
    queue.add("launch-3")
    time.sleep(0.25)  # phase-2 has now waited longer than background_max_wait
    assert queue.get() == ("phase-2", False)
    assert queue.get() == ("launch-3", False)
    for key in ("launch-1", "launch-2", "phase-1", "phase-2", "launch-3"):
        queue.done(key)
    assert len(queue) == 0 and queue.join(timeout=1)


def test_a_key_in_both_lanes_is_served_once_in_the_first() -> None:
    queue: WorkQueue[str] = WorkQueue(background_max_wait=60)
    queue.add("a")
    queue.add("p", background=True)
    queue.add("p", verify=True)  # now it matters: the front lane, verify kept
    queue.add("p", background=True)  # stays in the front lane
    assert [queue.get(), queue.get()] == [("a", False), ("p", True)]
    queue.add("b")
    assert queue.get() == ("b", False)  # the stale background entry of p is not served
    # Added in the background while being processed: runs again after, in the background lane.
    queue.add("p", background=True)
    queue.add("c")
    queue.done("p")
    assert queue.get() == ("c", False) and queue.get() == ("p", False)
    # A timer that comes due moves a background key to the front lane.
    queue.add("q", background=True)
    queue.add("d")
    queue.add_after("q", 0.01)
    time.sleep(0.05)
    assert queue.get() == ("d", False)  # the timer fires here, q joins the front lane
    queue.add("e")
    assert [queue.get(), queue.get()] == [("q", False), ("e", False)]
    queue.shutdown()
    assert queue.get() is None


def test_delayed_adds_keep_the_earliest_time_and_shutdown_drops_everything() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("x", 5.0)
    queue.add_after("x", 0.05)  # earlier wins
    queue.add_after("x", 3.0)  # later ignored
    started = time.monotonic()
    assert queue.get() == ("x", False)
    assert time.monotonic() - started < 1.0
    queue.done("x")
    queue.add_after("y", 10)
    queue.add("z")
    queue.shutdown()
    assert queue.get() is None
    queue.add("after")  # ignored once shut down
    assert len(queue) == 0


def test_retry_delay_has_jitter_and_honours_retry_after() -> None:
    delays = {round(retry_delay(3, RuntimeError("x")), 4) for _ in range(50)}
    assert len(delays) > 10 and all(1.6 <= d <= 2.4 for d in delays)
    throttled = KubeError(429, "TooManyRequests", "slow down", retry_after=7)
    assert retry_delay(1, throttled) >= 7


def _pipeline(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name, "namespace": "ns", "uid": f"u-{name}", "labels": labels, "generation": 1},
        "spec": {
            "sources": [{"name": "s", "file": {"path": "/in", "format": "parquet"}}],
            "sinks": [{"name": "k", "from": "s", "format": "parquet", "path": "/out"}],
        },
    }


def test_a_burst_of_pipeline_events_costs_each_selecting_policy_one_reconcile() -> None:
    kube = FakeKube()
    kube.put(
        {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPolicy",
            "metadata": {"name": "pol", "namespace": "ns", "uid": "u-pol", "generation": 1},
            "spec": {"pipelineSelector": {"matchLabels": {"team": "a"}}},
        }
    )
    for i in range(200):
        kube.put(_pipeline(f"p{i}", {"team": "a"}))
    runner = Reconciler(kube)  # type: ignore[arg-type]
    reconciled: Counter[str] = Counter()
    real_run = runner.run

    def counting_run(kind: str, namespace: str, name: str, *, verify: bool = True) -> Any:
        reconciled[kind] += 1
        return real_run(kind, namespace, name, verify=verify)

    runner.run = counting_run  # type: ignore[method-assign]
    runner.start_workers(2)
    try:
        lists_before = kube.requests["GET"]
        for _ in range(200):  # what 200 pipeline watch events do
            runner.policies_selecting("ns", {"team": "a"})
        time.sleep(0.8)
        assert runner.queue.join()
    finally:
        runner.stop()
    assert reconciled["DataPolicy"] == 1
    # 200 policy lookups (cached lists in the real client) + one policy reconcile, not 200 x 200.
    assert kube.requests["GET"] - lists_before < 500


def test_only_a_spec_change_fans_out() -> None:
    runner = Reconciler(FakeKube())  # type: ignore[arg-type]
    assert runner.spec_changed("DataPolicy", "ns", "p", 1, False)
    assert not runner.spec_changed("DataPolicy", "ns", "p", 1, False)  # a status write
    assert runner.spec_changed("DataPolicy", "ns", "p", 2, False)
    assert runner.spec_changed("DataPolicy", "ns", "p", 2, True)
    runner.stop()


def test_a_status_decided_from_a_stale_read_does_not_land() -> None:
    """Status writes are conditional on the version read (issue 11 defect 9): a second replica during a
    lease hand-over, deciding from an old read, gets 409 and reconciles again from the new state."""
    import pytest

    from dataops.kube.client import DATA_PIPELINE
    from dataops.reconcile.pipeline import reconcile_pipeline

    kube = FakeKube()
    kube.put(_pipeline("p", {}))
    stale = kube.get(DATA_PIPELINE, "ns", "p")
    assert stale is not None
    fresh = kube.get(DATA_PIPELINE, "ns", "p")
    assert fresh is not None
    reconcile_pipeline(kube, fresh)  # type: ignore[arg-type]
    with pytest.raises(KubeError) as refused:
        reconcile_pipeline(kube, stale)  # type: ignore[arg-type]
    assert refused.value.conflict


def test_kafka_admin_clients_are_bounded(monkeypatch: Any) -> None:
    from dataops.streams import kafka_admin

    monkeypatch.setattr(kafka_admin, "AdminClient", lambda config: object())  # no connections
    monkeypatch.setattr(kafka_admin, "_clients", type(kafka_admin._clients)())
    for port in range(40):
        kafka_admin.KafkaAdmin(f"127.0.0.1:{19000 + port}", timeout=0.1)
    assert len(kafka_admin._clients) == kafka_admin.MAX_CLIENTS
    assert "127.0.0.1:19039" in kafka_admin._clients and "127.0.0.1:19000" not in kafka_admin._clients
