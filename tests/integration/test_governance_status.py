"""A driver's run summary carries what retention removed and the unclassified personal data it
found: the operator puts both into status.lastRun, PolicyCompliant and a Warning Event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dataops.kube.client import KubeClient
from tests.integration.conftest import Operator, apply, condition, wait_for
from tests.integration.test_runs import RUN_NOW, _events, _pipeline, _status

pytestmark = pytest.mark.cluster


def test_run_summary_governance_reaches_status(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_pipeline: dict[str, Any]
) -> None:
    message = json.dumps(
        {
            "rowsWritten": {"revenue": 5},
            "retention": {
                "revenue": {
                    "column": "order_date",
                    "days": 365,
                    "cutoff": "2025-11-26T00:00:00+00:00",
                    "partitionsDropped": 3,
                }
            },
            "unclassifiedPii": [
                {"sink": "revenue", "column": "contact", "classification": "email", "ratio": 0.95}
            ],
        }
    )
    doc = _pipeline(
        example_pipeline,
        annotations={RUN_NOW: "1"},
        pod_annotations={"kwok.dataops.dev/termination-message": message},
    )
    apply(kubectl, doc)
    status = wait_for(
        lambda: (
            (_status(kube, namespace).get("lastRun") or {}).get("outcome") == "Succeeded"
            and _status(kube, namespace)
        ),
        timeout=45,
        what="run succeeded",
    )
    run = status["lastRun"]
    assert run["retention"] == [{"sink": "revenue", "partitionsDropped": 3}]
    assert run["unclassifiedPii"] == [
        {"sink": "revenue", "column": "contact", "classification": "email", "ratio": 0.95}
    ]
    compliant = condition({"status": status}, "PolicyCompliant")
    assert compliant is not None
    assert (compliant["status"], compliant["reason"]) == ("True", "UnclassifiedPersonalData")
    assert "revenue.contact looks like email (95%)" in compliant["message"]
    wait_for(lambda: "UnclassifiedPersonalData" in _events(kube, namespace), timeout=30, what="warning event")
