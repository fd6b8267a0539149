"""Kubernetes Events about our objects."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from dataops.api.v1alpha1.meta import object_reference
from dataops.kube.client import KubeClient, KubeError
from dataops.status.events import EventSpec

COMPONENT = "dataops-operator"


def build_event(involved: dict[str, Any], spec: EventSpec, *, now: datetime) -> dict[str, Any]:
    ref = object_reference(involved)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hashlib.sha256(f"{ref['uid']}{spec.reason}{spec.message}{now.isoformat()}".encode()).hexdigest()[
        :10
    ]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{ref['name']}.{digest}", "namespace": ref["namespace"]},
        "involvedObject": ref,
        "type": spec.type,
        "reason": spec.reason,
        "message": spec.message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def record(client: KubeClient, involved: dict[str, Any], specs: list[EventSpec], *, now: datetime) -> None:
    """Names are derived from the content and the second, so a repeated reconcile records an event once."""
    for spec in specs:
        try:
            client.create(build_event(involved, spec, now=now))
        except KubeError as exc:
            if not exc.conflict:
                raise
