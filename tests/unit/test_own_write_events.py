"""The watch event of our own status write is not a reason to reconcile again, even when it arrives
before the reconcile that wrote it has ended (under load it nearly always does)."""

from __future__ import annotations

from typing import Any

from dataops.handlers.runner import Reconciler
from dataops.reconcile.common import Outcome
from tests.unit.fake_kube import FakeKube


def _policy_runner(during: Any) -> tuple[Reconciler, list[str]]:
    kube = FakeKube()
    kube.put(
        {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPolicy",
            "metadata": {"name": "p", "namespace": "ns"},
        }
    )
    runner = Reconciler(kube)  # type: ignore[arg-type]
    acted: list[str] = []

    def reconcile(client: Any, body: dict[str, Any]) -> Outcome:
        during(runner, acted)  # watch events delivered while this reconcile runs
        return Outcome(status_written=True, resource_version="42")

    runner._reconcilers["DataPolicy"] = reconcile
    return runner, acted


def _event(runner: Reconciler, acted: list[str], resource_version: str) -> None:
    runner.unless_own_write("DataPolicy", "ns", "p", resource_version, lambda: acted.append(resource_version))


def test_own_write_event_during_the_reconcile_is_dropped_and_others_act_after_it() -> None:
    def during(runner: Reconciler, acted: list[str]) -> None:
        _event(runner, acted, "42")  # ours
        _event(runner, acted, "43")  # someone else's edit after ours
        assert acted == [], "judged before the reconcile ended"

    runner, acted = _policy_runner(during)
    runner.run("DataPolicy", "ns", "p")
    assert acted == ["43"]
    # Later events: ours again is dropped at once, another acts at once.
    _event(runner, acted, "42")
    _event(runner, acted, "44")
    assert acted == ["43", "44"]


def test_a_failed_reconcile_lets_every_deferred_event_act() -> None:
    def during(runner: Reconciler, acted: list[str]) -> None:
        _event(runner, acted, "42")
        raise RuntimeError("boom")

    runner, acted = _policy_runner(during)
    runner.run("DataPolicy", "ns", "p")
    assert acted == ["42"]
    runner.stop()


def test_an_event_without_resource_version_always_acts() -> None:
    def during(runner: Reconciler, acted: list[str]) -> None:
        runner.unless_own_write("DataPolicy", "ns", "p", None, lambda: acted.append("none"))
        assert acted == ["none"]

    runner, acted = _policy_runner(during)
    runner.run("DataPolicy", "ns", "p")
    assert acted == ["none"]
