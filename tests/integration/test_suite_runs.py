"""Standalone DataQualitySuite runs on the control plane: the operator launches validation pods,
KWOK finishes them with the result a test hands in, the operator records it in status."""

from __future__ import annotations

import copy
import json
import urllib.request
from typing import Any

import pytest

from dataops.api.v1alpha1.dataqualitysuite import FailedExpectation, ValidationResult
from dataops.kube.client import CONFIG_MAP, DATA_QUALITY_SUITE, EVENT, POD, KubeClient
from dataops.plan.scheduling import run_id_for
from dataops.quality.summarize import compact_json
from tests.integration.conftest import Operator, apply, condition, wait_for

pytestmark = pytest.mark.cluster

RUN_NOW = "dataops.dev/run-now"
MESSAGE = "kwok.dataops.dev/termination-message"


def _suite(
    example_suite: dict[str, Any], pod_annotations: dict[str, str], run_now: str | None
) -> dict[str, Any]:
    doc = copy.deepcopy(example_suite)
    doc["spec"]["dataset"] = {"path": "s3a://lake/sales/orders", "format": "parquet"}
    doc["spec"]["validator"] = {
        "image": "registry.test/dataops/validator:test",
        "podAnnotations": pod_annotations,
    }
    if run_now:
        doc["metadata"]["annotations"] = {RUN_NOW: run_now}
    return doc


def _result(run_id: str, *, success: bool) -> str:
    failed = (
        []
        if success
        else [
            FailedExpectation(
                type="expect_column_values_to_be_between",
                column="amount",
                observed_value="3 unexpected",
                unexpected_sample=["-5.0", "-1.0", "12000.0"],
            )
        ]
    )
    result = ValidationResult(
        run_id=run_id,
        success=success,
        success_percent=100 if success else 80,
        evaluated=5,
        failed=len(failed),
        failed_expectations=failed,
        duration_seconds=4.2,
        report_path=f"s3a://lake/sales/orders/_dataops_quality/{run_id}/report.html",
        metrics={"rowCount": 200, "schemaHash": "abc", "columns": ["order_id:long", "amount:double"]},
    )
    return compact_json(result)


def _get(kube: KubeClient, ns: str) -> dict[str, Any]:
    return kube.get(DATA_QUALITY_SUITE, ns, "orders-quality") or {}


def _events(kube: KubeClient, ns: str) -> list[tuple[str, str]]:
    return [
        (e["type"], e["reason"])
        for e in kube.list(EVENT, ns)
        if e["involvedObject"]["name"] == "orders-quality"
    ]


def _run(
    kube: KubeClient,
    kubectl: Any,
    ns: str,
    example_suite: dict[str, Any],
    value: str,
    message: str,
    exit_code: str | None = None,
) -> dict[str, Any]:
    uid = _get(kube, ns)["metadata"]["uid"]
    run_id = run_id_for("v", uid, f"manual/{value}")
    annotations = {MESSAGE: message.replace("RUN_ID", run_id)}
    if exit_code:
        annotations["kwok.dataops.dev/exit-code"] = exit_code
    apply(kubectl, _suite(example_suite, annotations, value))
    return wait_for(
        lambda: (
            ((s := _get(kube, ns).get("status") or {}).get("lastResult") or {}).get("runId") == run_id and s
        ),
        timeout=45,
        what=f"result of run {run_id}",
    )


def test_validation_pods_record_results_history_events_and_metrics(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_suite: dict[str, Any]
) -> None:
    apply(kubectl, _suite(example_suite, {}, None))
    wait_for(lambda: condition(_get(kube, namespace), "Ready"), what="suite Ready")
    uid = _get(kube, namespace)["metadata"]["uid"]

    passed = _run(
        kube, kubectl, namespace, example_suite, "1", _result(run_id_for("v", uid, "manual/1"), success=True)
    )
    first_run = passed["lastResult"]["runId"]
    assert passed["lastResult"]["success"] is True and passed["lastResult"]["reportPath"].endswith(
        "/report.html"
    )
    assert passed["phase"] == "Passed" and "active" not in passed and passed["lastRunNow"] == "1"
    quality = condition({"status": passed}, "QualityPassed")
    assert quality is not None and (quality["status"], quality["reason"]) == ("True", "ValidationPassed")
    (pod,) = kube.list(POD, namespace, label_selector="dataops.dev/suite=orders-quality")
    assert pod["metadata"]["name"] == f"orders-quality-{first_run}-validator"
    assert pod["spec"]["containers"][0]["image"] == "registry.test/dataops/validator:test"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == uid
    plan = json.loads(
        (kube.get(CONFIG_MAP, namespace, "orders-quality-validation") or {})["data"]["plan.json"]
    )
    assert plan["suite"] == "orders-quality" and plan["spec"]["dataset"]["path"] == "s3a://lake/sales/orders"

    second_run = run_id_for("v", uid, "manual/2")
    failed = _run(kube, kubectl, namespace, example_suite, "2", _result(second_run, success=False))
    assert failed["phase"] == "Failed" and [h["runId"] for h in failed["history"]] == [second_run, first_run]
    (only,) = failed["lastResult"]["failedExpectations"]
    assert only["unexpectedSample"] == ["-5.0", "-1.0", "12000.0"]
    quality = condition({"status": failed}, "QualityPassed")
    assert quality is not None and (quality["status"], quality["reason"]) == ("False", "ValidationFailed")
    assert "expect_column_values_to_be_between(amount)" in quality["message"]
    # The second launch carried the first run's metrics as history for the anomaly checks.
    plan = json.loads(
        (kube.get(CONFIG_MAP, namespace, "orders-quality-validation") or {})["data"]["plan.json"]
    )
    assert [h["rowCount"] for h in plan["history"]] == [200]
    wait_for(
        lambda: (
            [
                p["metadata"]["name"]
                for p in kube.list(POD, namespace, label_selector="dataops.dev/suite=orders-quality")
            ]
            == [f"orders-quality-{second_run}-validator"]
        ),
        what="only the newest validation pod kept",
    )
    events = wait_for(
        lambda: (e := _events(kube, namespace)) and ("Warning", "ValidationFailed") in e and e,
        what="ValidationFailed event",
    )
    assert ("Normal", "ValidationPassed") in events and ("Normal", "ValidationStarted") in events

    crashed = _run(
        kube,
        kubectl,
        namespace,
        example_suite,
        "3",
        "dataset s3a://lake/sales/orders: Path does not exist",
        exit_code="1",
    )
    assert "Path does not exist" in crashed["lastResult"]["error"]
    quality = condition({"status": crashed}, "QualityPassed")
    assert quality is not None and (quality["status"], quality["reason"]) == ("Unknown", "ValidationError")
    wait_for(lambda: ("Warning", "ValidationError") in _events(kube, namespace), what="ValidationError event")

    with urllib.request.urlopen(f"http://127.0.0.1:{operator.metrics_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in (
        'dataops_quality_validations_total{outcome="passed"}',
        'dataops_quality_validations_total{outcome="failed"}',
        'dataops_quality_validations_total{outcome="error"}',
        'dataops_quality_failed_expectations_total{severity="error"}',
    ):
        assert any(row.startswith(line) and float(row.split()[-1]) >= 1 for row in text.splitlines()), line
    assert "dataops_quality_validation_duration_seconds_count" in text
