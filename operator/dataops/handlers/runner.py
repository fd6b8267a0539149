"""Runs reconciles: watch events and fan-outs add keys to a work queue; a fixed pool of workers
reconciles them, one at a time per object, with metrics, retries with jittered backoff (and the
server's Retry-After), requeues, and a periodic resync."""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from dataops.api.v1alpha1.common import LabelSelector
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.handlers.workqueue import WorkQueue
from dataops.kube.admission import collect_orphans
from dataops.kube.client import (
    DATA_PIPELINE,
    DATA_POLICY,
    DATA_QUALITY_SUITE,
    KubeClient,
    KubeError,
    ResourceType,
)
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
from dataops.metrics.pipelines import PIPELINES
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
MAX_KEPT_BODIES = 1024  # beyond this many waiting reconciles (a burst of creations), they read instead
POLICY_COALESCE_SECONDS = 0.5  # pipeline events within this window cost their policies one reconcile

Key = tuple[str, str, str]  # (kind, namespace, name)


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
        self._own_writes: dict[tuple[str, str, str], str] = {}
        # Watch events that arrived while their object's reconcile was running: our own status
        # write's event usually arrives before the reconcile ends and records its resourceVersion,
        # so they are judged when it ends.
        self._in_flight: set[Key] = set()
        self._deferred: dict[Key, list[tuple[str, Callable[[], None]]]] = {}
        # The newest body known of an object whose reconcile is waiting: the watch event's that queued
        # it, or what our own status write returned while the pipeline has runs in flight (a driver's
        # phase change comes next). The reconcile starts from it instead of reading the object.
        self._bodies: dict[Key, dict[str, Any]] = {}
        self._pod_phases: dict[tuple[str, str], str] = {}
        self._generations: dict[Key, int | None] = {}
        # What each DataPolicy selected when last seen: an edit reconciles the pipelines selected
        # before or after it, not the whole namespace. None: selects by something we cannot read.
        self._policy_selectors: dict[tuple[str, str], LabelSelector | None] = {}
        self._stopped = threading.Event()
        self.queue: WorkQueue[Key] = WorkQueue()

    def start_workers(self, count: int) -> None:
        self.queue.start_workers(
            count, lambda key, verify: self.run(*key, verify=verify), name="dataops-reconcile"
        )

    def enqueue(
        self,
        kind: str,
        namespace: str,
        name: str,
        *,
        verify: bool = True,
        delay: float = 0,
        background: bool = False,
    ) -> None:
        """Reconcile the object soon (by a worker); a key already waiting is not added twice.
        ``background``: bookkeeping that may wait behind launches and edits (see WorkQueue)."""
        self.queue.add_after((kind, namespace, name), delay, verify=verify, background=background)

    def _lock(self, key: tuple[str, str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def run(self, kind: str, namespace: str, name: str, *, verify: bool = True) -> Outcome | None:
        """Reconcile the current state of one object; failures are retried with exponential backoff.

        ``verify=False`` lets a pipeline whose spec and plan did not change skip reading its
        children back (used for run progress: driver pod phases, timers)."""
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
        with self._guard:
            self._in_flight.add(key)
        try:
            return self._run_locked(kind, namespace, name, fn, lock)
        finally:
            self._judge_deferred(key)

    def _run_locked(
        self, kind: str, namespace: str, name: str, fn: ReconcileFn, lock: threading.Lock
    ) -> Outcome | None:
        rt = RESOURCES[kind]
        key = (kind, namespace, name)
        try:
            if self._stopped.is_set():
                return None
            started = time.perf_counter()
            try:
                body = self._take_body(key) or self.client.get(rt, namespace, name)
                if body is None:
                    with self._guard:
                        self._locks.pop(key, None)
                        self._failures.pop(key, None)
                    if kind == "DataPipeline":
                        PIPELINES.forget(namespace, name)  # none of its series remain
                    return None
                outcome = fn(self.client, body)
            except Exception as exc:
                with self._guard:  # the retry reads the object afresh (a 409 means ours was old)
                    self._bodies.pop(key, None)
                RECONCILES.labels(kind, "error").inc()
                RECONCILE_ERRORS.labels(kind, error_kind(exc)).inc()
                self._schedule_retry(key, exc)
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
                if outcome.written is not None and (outcome.written.get("status") or {}).get("activeRuns"):
                    self._keep_newer(key, outcome.written)
        return outcome

    # -- bodies: what a reconcile starts from ----------------------------------------------------

    def offer_body(self, kind: str, namespace: str, name: str, body: Mapping[str, Any] | None) -> None:
        """A watch event's object (None: it was deleted), for the reconcile the event queues."""
        key = (kind, namespace, name)
        with self._guard:
            if body is None:
                self._bodies.pop(key, None)
            else:
                self._keep_newer(key, body)

    def _keep_newer(self, key: Key, body: Mapping[str, Any]) -> None:
        """Keep ``body`` unless the one kept is newer (resourceVersions are etcd revisions; one that is
        not a number is never kept, the reconcile reads the object). Call with the guard held."""
        version = _revision(body)
        kept = self._bodies.get(key)
        if version is None or (kept is not None and (_revision(kept) or 0) > version):
            return
        if kept is None and len(self._bodies) >= MAX_KEPT_BODIES:
            return  # memory stays bounded: this reconcile reads the object
        copied = copy.deepcopy(dict(body))
        copied.get("metadata", {}).pop("managedFields", None)  # not needed, and most of the size
        self._bodies[key] = copied

    def _take_body(self, key: Key) -> dict[str, Any] | None:
        """The kept body, unless our own last status write is newer than it."""
        with self._guard:
            body = self._bodies.pop(key, None)
            own = self._own_writes.get(key)
        if body is None:
            return None
        own_revision = _number(own) if own else 0
        version = _revision(body)
        if version is None or own_revision is None or version < own_revision:
            return None
        return body

    def unless_own_write(
        self, kind: str, namespace: str, name: str, resource_version: str | None, act: Callable[[], None]
    ) -> None:
        """``act()`` for a watch event, unless it reports our own last status write (nothing new to
        converge). An event that arrives while the object's reconcile runs is judged when it ends."""
        key = (kind, namespace, name)
        with self._guard:
            if resource_version is not None:
                if self._own_writes.get(key) == resource_version:
                    return
                if key in self._in_flight:
                    self._deferred.setdefault(key, []).append((resource_version, act))
                    return
        act()

    def _judge_deferred(self, key: Key) -> None:
        with self._guard:
            self._in_flight.discard(key)
            deferred = self._deferred.pop(key, [])
            own = self._own_writes.get(key)
        for resource_version, act in deferred:
            if resource_version != own:
                act()

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

    def _schedule_retry(self, key: Key, exc: BaseException) -> None:
        with self._guard:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
        self.queue.add_after(key, retry_delay(failures, exc), verify=True)

    def _schedule(self, key: Key, delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (the earliest request wins)."""
        self.queue.add_after(key, delay, verify=False)

    def spec_changed(
        self, kind: str, namespace: str, name: str, generation: int | None, deleted: bool
    ) -> bool:
        """True when an object's spec changed (first seen, new generation, deleted): what the objects
        that depend on it (a policy's pipelines, a suite's pipelines) need to hear about."""
        key = (kind, namespace, name)
        with self._guard:
            if deleted:
                self._generations.pop(key, None)
                return True
            before = self._generations.get(key, -1)
            self._generations[key] = generation
            return before != generation

    # -- fan-out: who else must be reconciled when an object changes -------------------------

    def pipelines_referencing_suite(self, namespace: str, suite: str) -> None:
        for body in self.client.list(DATA_PIPELINE, namespace):
            if self._stopped.is_set():
                return
            if references_suite(body, suite):
                self.enqueue("DataPipeline", namespace, body["metadata"]["name"], verify=False)

    def pipelines_of_policy(
        self, namespace: str, name: str, spec: Mapping[str, Any] | None, deleted: bool
    ) -> None:
        """A policy's spec changed (or it appeared, or went away): reconcile the pipelines it selected
        before the change or selects after it; the others' verdicts cannot have changed. A policy
        first seen selected nothing before (after a restart, every pipeline is reconciled anyway by
        its own initial listing)."""
        key = (namespace, name)
        now = None if deleted else _selector_of(spec)
        with self._guard:
            before = (
                self._policy_selectors.pop(key, _NOTHING)
                if deleted
                else self._policy_selectors.get(key, _NOTHING)
            )
            if not deleted:
                self._policy_selectors[key] = now
        selectors = [s for s in ([before] if deleted else [before, now]) if s is not _NOTHING]
        self.client.forget(DATA_POLICY, namespace)  # a policy changed: no reconcile may reuse the old list
        if not selectors:
            return
        for body in self.client.list(DATA_PIPELINE, namespace):
            if self._stopped.is_set():
                return
            labels = body["metadata"].get("labels") or {}
            if any(s is None or selector_matches(s, labels) for s in selectors):
                self.enqueue("DataPipeline", namespace, body["metadata"]["name"], verify=False)

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
                # Coalesced: a burst of pipeline events costs each policy one reconcile (one list).
                self.enqueue("DataPolicy", namespace, body["metadata"]["name"], delay=POLICY_COALESCE_SECONDS)

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
                        self.enqueue(kind, meta["namespace"], meta["name"])
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
        self.queue.shutdown()


def retry_delay(failures: int, exc: BaseException) -> float:
    """Exponential backoff with +-20 % jitter (replicas and objects failing together do not retry in
    lockstep), never shorter than the Retry-After the API server asked for."""
    delay = min(MAX_RETRY_DELAY, 0.5 * 2 ** (failures - 1)) * random.uniform(0.8, 1.2)
    if isinstance(exc, KubeError) and exc.retry_after:
        delay = max(delay, float(exc.retry_after))
    return float(delay)


_NOTHING: Any = object()  # a policy not seen before: it selected no pipeline


def _selector_of(spec: Mapping[str, Any] | None) -> LabelSelector | None:
    """The pipelines a policy spec selects; None when the spec does not parse (select them all)."""
    try:
        return DataPolicySpec.model_validate(spec or {}).pipeline_selector
    except ValueError:
        return None


def _revision(body: Mapping[str, Any]) -> int | None:
    return _number((body.get("metadata") or {}).get("resourceVersion"))


def _number(version: object) -> int | None:
    """A resourceVersion as the etcd revision it is, or None when it is not a number."""
    return int(version) if isinstance(version, str) and version.isdigit() else None
