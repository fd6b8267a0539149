"""Runs reconciles: one at a time per object, with metrics, retries with backoff, and periodic resync."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.kube.admission import collect_orphans
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, DATA_QUALITY_SUITE, KubeClient, ResourceType
from dataops.metrics import (
    CHILD_WRITES,
    EVENTS,
    RECONCILE_ERRORS,
    RECONCILE_SECONDS,
    RECONCILES,
    RUN_EVENTS,
    STATUS_WRITES,
    error_kind,
)
from dataops.policy.selectors import selector_matches
from dataops.reconcile.common import Outcome
from dataops.reconcile.config import DEFAULT_RUN_CONFIG, RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline, references_suite
from dataops.reconcile.policy import reconcile_policy
from dataops.reconcile.suite import reconcile_suite
from dataops.settings import namespace_patterns

log = logging.getLogger(__name__)

ReconcileFn = Callable[[KubeClient, dict[str, Any]], Outcome]

RESOURCES: dict[str, ResourceType] = {
    "DataPipeline": DATA_PIPELINE,
    "DataQualitySuite": DATA_QUALITY_SUITE,
    "DataPolicy": DATA_POLICY,
}

MAX_RETRY_DELAY = 60.0


class Reconciler:
    def __init__(
        self, client: KubeClient, *, namespace: str | None = None, run_config: RunConfig = DEFAULT_RUN_CONFIG
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.run_config = run_config
        self._reconcilers: dict[str, ReconcileFn] = {
            "DataQualitySuite": partial(reconcile_suite, config=run_config),
            "DataPolicy": reconcile_policy,
        }
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str, str], threading.Lock] = {}
        self._failures: dict[tuple[str, str, str], int] = {}
        self._timers: dict[tuple[str, str, str], tuple[float, threading.Timer]] = {}
        self._own_writes: dict[tuple[str, str, str], str] = {}
        self._pod_phases: dict[tuple[str, str], str] = {}
        self._stopped = threading.Event()

    def _lock(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def run(self, kind: str, namespace: str, name: str, *, verify: bool = True) -> Outcome | None:
        """Reconcile the current state of one object; failures are retried with exponential backoff.

        ``verify=False`` lets a pipeline whose spec and plan did not change skip reading its
        children back (used for run progress: driver pod phases, timers)."""
        rt = RESOURCES[kind]
        fn = (
            partial(reconcile_pipeline, config=self.run_config, verify_children=verify)
            if kind == "DataPipeline"
            else self._reconcilers[kind]
        )
        key = (kind, namespace, name)
        lock = self._lock(key)
        # Shutting down: take no new work, and stop waiting behind another reconcile of the object.
        while not lock.acquire(timeout=0.2):
            if self._stopped.is_set():
                return None
        try:
            if self._stopped.is_set():
                return None
            started = time.perf_counter()
            try:
                body = self.client.get(rt, namespace, name)
                if body is None:
                    with self._guard:
                        self._locks.pop(key, None)
                        self._failures.pop(key, None)
                    return None
                outcome = fn(self.client, body)
            except Exception as exc:
                RECONCILES.labels(kind, "error").inc()
                RECONCILE_ERRORS.labels(kind, error_kind(exc)).inc()
                self._schedule_retry(key)
                log.exception("reconcile of %s %s/%s failed", kind, namespace, name)
                return None
            finally:
                RECONCILE_SECONDS.labels(kind).observe(time.perf_counter() - started)
            with self._guard:
                self._failures.pop(key, None)
        finally:
            lock.release()
        RECONCILES.labels(
            kind, "changed" if outcome.status_written or outcome.children_written else "unchanged"
        ).inc()
        if outcome.status_written:
            STATUS_WRITES.labels(kind).inc()
        CHILD_WRITES.labels(kind).inc(outcome.children_written)
        for event in outcome.events:
            event_type, reason = event.split("/", 1)
            EVENTS.labels(kind, event_type).inc()
            if reason.startswith(("Run", "Schedule")):
                RUN_EVENTS.labels(reason).inc()
        if outcome.requeue_after is not None:
            self._schedule(key, outcome.requeue_after)
        if outcome.resource_version:
            with self._guard:
                self._own_writes[key] = outcome.resource_version
        return outcome

    def is_own_write(self, kind: str, namespace: str, name: str, resource_version: str | None) -> bool:
        """True for the watch event of our own last status write (nothing new to converge)."""
        with self._guard:
            return (
                resource_version is not None
                and self._own_writes.get((kind, namespace, name)) == resource_version
            )

    def pod_phase_changed(self, namespace: str, name: str, phase: str | None, deleted: bool) -> bool:
        """Driver pods change often (scheduling, IPs); only phase changes and deletions matter."""
        key = (namespace, name)
        with self._guard:
            if deleted:
                self._pod_phases.pop(key, None)
                return True
            before = self._pod_phases.get(key)
            self._pod_phases[key] = phase or ""
            # A new driver that is still Pending was recorded when it was launched: nothing to do yet.
            return before != phase and not (before is None and phase == "Pending")

    def _schedule_retry(self, key: tuple[str, str, str]) -> None:
        with self._guard:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        self._schedule(key, min(MAX_RETRY_DELAY, 0.5 * 2 ** (failures - 1)))

    def _schedule(self, key: tuple[str, str, str], delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (the earliest request wins)."""
        due = time.monotonic() + delay
        with self._guard:
            pending = self._timers.get(key)
            if pending is not None and pending[0] <= due and pending[1].is_alive():
                return
            if pending is not None:
                pending[1].cancel()
            timer = threading.Timer(delay, self._fire, args=key)
            timer.daemon = True
            self._timers[key] = (due, timer)
        timer.start()

    def _fire(self, kind: str, namespace: str, name: str) -> None:
        with self._guard:
            self._timers.pop((kind, namespace, name), None)
            failed = (kind, namespace, name) in self._failures
        if not self._stopped.is_set():
            self.run(kind, namespace, name, verify=failed)

    # -- fan-out: who else must be reconciled when an object changes -------------------------

    def pipelines_referencing_suite(self, namespace: str, suite: str) -> None:
        for body in self.client.list(DATA_PIPELINE, namespace):
            if self._stopped.is_set():
                return
            if references_suite(body, suite):
                self.run("DataPipeline", namespace, body["metadata"]["name"], verify=False)

    def all_pipelines(self, namespace: str) -> None:
        self.client.forget(DATA_POLICY, namespace)  # a policy changed: no reconcile may reuse the old list
        for body in self.client.list(DATA_PIPELINE, namespace):
            if self._stopped.is_set():
                return
            self.run("DataPipeline", namespace, body["metadata"]["name"], verify=False)

    def policies_selecting(self, namespace: str, labels: dict[str, str]) -> None:
        for body in self.client.list_recent(
            DATA_POLICY, namespace, max_age=self.run_config.policy_list_max_age
        ):
            try:
                spec = DataPolicySpec.model_validate(body.get("spec") or {})
            except ValueError:
                continue
            if self._stopped.is_set():
                return
            # A policy with access names the pipelines it selects in its Roles: it recomputes them on
            # every pipeline change, including a label edit that takes a pipeline out of its selection.
            if spec.access is not None or selector_matches(spec.pipeline_selector, labels):
                self.run("DataPolicy", namespace, body["metadata"]["name"])

    # -- periodic resync -----------------------------------------------------------------------

    def watches(self, namespace: str) -> bool:
        patterns = namespace_patterns(self.namespace)
        return not patterns or any(fnmatchcase(namespace, p) for p in patterns)

    def resync_once(self) -> None:
        patterns = namespace_patterns(self.namespace)
        # Exact namespace names: list in each (the chart's watchNamespaces grants Roles there, no
        # cluster-wide list); globs or all namespaces: one cluster-wide list.
        exact = bool(patterns) and not any(c in p for p in patterns for c in "*?[")
        scopes: list[str | None] = list(dict.fromkeys(patterns)) if exact else [None]
        for kind, rt in RESOURCES.items():
            for scope in scopes:
                for body in self.client.list(rt, scope):
                    meta = body["metadata"]
                    if self._stopped.is_set():
                        return
                    if self.watches(meta["namespace"]):
                        self.run(kind, meta["namespace"], meta["name"])
        # Admission objects of DataPolicies that went without their finalizer.
        collect_orphans(self.client, watches=self.watches)

    def start_resync(self, interval: float) -> threading.Thread:
        def loop() -> None:
            while not self._stopped.wait(interval):
                try:
                    self.resync_once()
                except Exception:
                    log.exception("resync failed")

        thread = threading.Thread(target=loop, name="dataops-resync", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Take no more work: reconciles not yet started return at once, one in progress finishes its
        current step (every step is idempotent, so the next leader converges from there)."""
        self._stopped.set()
        with self._guard:
            for _, timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
