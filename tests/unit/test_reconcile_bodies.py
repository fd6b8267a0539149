"""A reconcile starts from the body of the watch event that queued it (or from what our own status
write returned while runs are in flight) instead of reading the object, but never from a body older
than our own last write, and never again after a failure."""

from __future__ import annotations

from typing import Any

from dataops.handlers import runner as runner_module
from dataops.handlers.runner import Reconciler
from dataops.reconcile.common import Outcome
from tests.unit.fake_kube import FakeKube


def _body(version: str, marker: str, **status: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "p", "namespace": "ns", "resourceVersion": version, "managedFields": [{}]},
        "spec": {"marker": marker},
        "status": status,
    }


class _Recorder:
    def __init__(self) -> None:
        self.kube = FakeKube()
        self.kube.put(_body("1", "stored"))
        self.runner = Reconciler(self.kube)  # type: ignore[arg-type]
        self.runner._reconcilers["DataPolicy"] = self._reconcile
        self.seen: list[str] = []
        self.next_outcome = Outcome()
        self.fail = False

    def _reconcile(self, client: Any, body: dict[str, Any]) -> Outcome:
        self.seen.append(body["spec"]["marker"])
        assert "managedFields" not in body["metadata"] or body["spec"]["marker"] == "stored"
        if self.fail:
            raise RuntimeError("boom")
        return self.next_outcome

    def run(self) -> int:
        """Reconciles once; returns the reads it made."""
        before = self.kube.requests["GET"]
        self.runner.run("DataPolicy", "ns", "p")
        return self.kube.requests["GET"] - before


def test_the_events_body_is_used_without_a_read() -> None:
    r = _Recorder()
    r.runner.offer_body("DataPolicy", "ns", "p", _body("7", "event"))
    assert r.run() == 0 and r.seen == ["event"]
    # Taken once: the next reconcile (a timer, say) reads the object.
    assert r.run() == 1 and r.seen == ["event", "stored"]


def test_an_older_body_does_not_replace_a_newer_one() -> None:
    r = _Recorder()
    r.runner.offer_body("DataPolicy", "ns", "p", _body("9", "newer"))
    r.runner.offer_body("DataPolicy", "ns", "p", _body("8", "older"))
    assert r.run() == 0 and r.seen == ["newer"]


def test_a_body_older_than_our_own_write_is_not_used() -> None:
    r = _Recorder()
    r.next_outcome = Outcome(status_written=True, resource_version="42")
    r.run()
    r.runner.offer_body("DataPolicy", "ns", "p", _body("41", "before our write"))
    assert r.run() == 1 and r.seen[-1] == "stored"
    r.runner.offer_body("DataPolicy", "ns", "p", _body("43", "after our write"))
    assert r.run() == 0 and r.seen[-1] == "after our write"


def test_a_failed_reconcile_reads_afresh_next_time() -> None:
    r = _Recorder()
    r.runner.offer_body("DataPolicy", "ns", "p", _body("7", "event"))
    r.fail = True
    r.run()
    r.fail = False
    r.runner.offer_body("DataPolicy", "ns", "p", None)
    assert r.run() == 1 and r.seen == ["event", "stored"]


def test_deleted_drops_the_body_and_unversioned_bodies_are_not_kept() -> None:
    r = _Recorder()
    r.runner.offer_body("DataPolicy", "ns", "p", _body("7", "event"))
    r.runner.offer_body("DataPolicy", "ns", "p", None)
    assert r.run() == 1 and r.seen == ["stored"]
    r.runner.offer_body("DataPolicy", "ns", "p", _body("not-a-number", "odd"))
    assert r.run() == 1 and r.seen[-1] == "stored"


def test_our_write_is_kept_while_runs_are_in_flight() -> None:
    r = _Recorder()
    written = _body("50", "written", activeRuns=[{"id": "r1"}])
    r.next_outcome = Outcome(status_written=True, resource_version="50", written=written)
    r.run()
    r.next_outcome = Outcome()
    assert r.run() == 0 and r.seen[-1] == "written"
    # No run in flight: nothing kept (memory stays bounded by the runs in flight).
    idle = _body("60", "idle")
    r.next_outcome = Outcome(status_written=True, resource_version="60", written=idle)
    r.run()
    r.next_outcome = Outcome()
    assert r.run() == 1 and r.seen[-1] == "stored"


def test_at_most_so_many_bodies_are_kept(monkeypatch: Any) -> None:
    monkeypatch.setattr(runner_module, "MAX_KEPT_BODIES", 2)
    r = _Recorder()
    for name in ("a", "b", "p"):
        r.runner.offer_body("DataPolicy", "ns", name, _body("7", f"event {name}"))
    assert r.run() == 1 and r.seen == ["stored"]  # p came third: not kept, read
    r.runner.offer_body("DataPolicy", "ns", "a", _body("8", "newer a"))  # replacing one is allowed
    assert r.runner._bodies[("DataPolicy", "ns", "a")]["spec"]["marker"] == "newer a"
