"""reconcile() for DataPolicy: evaluate every pipeline it selects."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, DataPolicyStatus
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, KubeClient
from dataops.policy.evaluate import pipeline_violations
from dataops.policy.selectors import selector_matches
from dataops.reconcile.common import Outcome, parse_status, utcnow, write_status
from dataops.status.policy import policy_status


def reconcile_policy(client: KubeClient, body: dict[str, Any]) -> Outcome:
    outcome = Outcome()
    meta = body["metadata"]
    if meta.get("deletionTimestamp"):
        return outcome
    try:
        spec = DataPolicySpec.model_validate(body.get("spec") or {})
    except ValidationError:
        return outcome
    findings: dict[str, list[str]] = {}
    for pipeline in client.list(DATA_PIPELINE, meta["namespace"]):
        if not selector_matches(spec.pipeline_selector, pipeline["metadata"].get("labels") or {}):
            continue
        try:
            pipeline_spec = DataPipelineSpec.model_validate(pipeline.get("spec") or {})
        except ValidationError:
            findings[pipeline["metadata"]["name"]] = ["spec does not validate"]
            continue
        findings[pipeline["metadata"]["name"]] = pipeline_violations(spec, pipeline_spec)
    previous = parse_status(DataPolicyStatus, body)
    now = utcnow()
    status = policy_status(previous, findings, generation=meta.get("generation"), now=now)
    write_status(
        client,
        DATA_POLICY,
        body,
        current=status,
        conditions_before=previous.conditions if previous else [],
        now=now,
        outcome=outcome,
    )
    return outcome
