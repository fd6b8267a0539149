"""reconcile() for DataQualitySuite."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec, DataQualitySuiteStatus
from dataops.kube.client import DATA_QUALITY_SUITE, KubeClient
from dataops.reconcile.common import Outcome, parse_status, utcnow, write_status
from dataops.status.suite import suite_status


def reconcile_suite(client: KubeClient, body: dict[str, Any]) -> Outcome:
    outcome = Outcome()
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return outcome
    try:
        spec = DataQualitySuiteSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return outcome  # the CRD schema admits nothing invalid; an old object waits for an edit
    previous = parse_status(DataQualitySuiteStatus, body)
    now = utcnow()
    status = suite_status(previous, spec, generation=meta.get("generation"), now=now)
    write_status(
        client,
        DATA_QUALITY_SUITE,
        body,
        current=status,
        conditions_before=previous.conditions if previous else [],
        now=now,
        outcome=outcome,
    )
    return outcome
