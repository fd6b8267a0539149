"""Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from dataops.api.v1alpha1.meta import parse_time
from dataops.kube.client import LEASE, KubeClient, KubeError

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


def _format(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_expired(spec: dict[str, Any], now: datetime) -> bool:
    renew = spec.get("renewTime") or spec.get("acquireTime")
    if not renew:
        return True
    renewed = parse_time(renew)
    assert renewed is not None
    return renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds", 15))) < now


class LeaderElector:
    def __init__(
        self, client: KubeClient, *, namespace: str, name: str, identity: str, duration: int = 15
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = duration
        self._stop = threading.Event()

    def try_acquire_or_renew(self) -> bool:
        now = _now()
        live = self.client.get(LEASE, self.namespace, self.name)
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration,
            "renewTime": _format(now),
        }
        try:
            if live is None:
                spec["acquireTime"] = _format(now)
                self.client.create(
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": spec,
                    }
                )
                return True
            current = live.get("spec") or {}
            if current.get("holderIdentity") != self.identity:
                if not lease_expired(current, now):
                    return False
                spec["acquireTime"] = _format(now)
                spec["leaseTransitions"] = int(current.get("leaseTransitions", 0)) + 1
            else:
                spec["acquireTime"] = current.get("acquireTime", _format(now))
                spec["leaseTransitions"] = int(current.get("leaseTransitions", 0))
            live["spec"] = spec
            self.client.replace(live)
            return True
        except KubeError as exc:
            if exc.conflict:
                return False
            raise

    def acquire(self) -> None:
        """Block until this replica holds the lease."""
        while not self._stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
                    return
            except KubeError as exc:
                log.warning("lease acquisition failed: %s", exc)
            self._stop.wait(self.duration / 3)

    def keep_renewing(self, on_lost: Callable[[], None]) -> threading.Thread:
        def loop() -> None:
            last_ok = _now()
            while not self._stop.wait(self.duration / 3):
                try:
                    if self.try_acquire_or_renew():
                        last_ok = _now()
                        continue
                except KubeError as exc:
                    log.warning("lease renewal failed: %s", exc)
                if _now() - last_ok > timedelta(seconds=self.duration * 2 / 3):
                    log.error("lost lease %s/%s", self.namespace, self.name)
                    on_lost()
                    return

        thread = threading.Thread(target=loop, name="dataops-lease", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Give the lease up (holder cleared, as client-go's ReleaseOnCancel does), so a standby takes
        over at once instead of after the lease duration. Best effort: the lease expires anyway."""
        self._stop.set()
        try:
            live = self.client.get(LEASE, self.namespace, self.name)
            if live is None or (live.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            live["spec"] = {
                **live["spec"],
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": _format(_now()),
            }
            self.client.replace(live)
            log.info("released lease %s/%s", self.namespace, self.name)
        except KubeError as exc:
            log.warning("releasing lease %s/%s failed: %s", self.namespace, self.name, exc)
