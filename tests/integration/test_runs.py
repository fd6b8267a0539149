"""Pipeline runs on the control plane: KWOK plays the kubelet and completes or fails driver pods."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import (
    CONFIG_MAP,
    DATA_PIPELINE,
    EVENT,
    POD,
    SERVICE,
    SPARK_APPLICATION,
    KubeClient,
)
from dataops.plan.spark_driver import driver_properties
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from tests.integration.conftest import RUNTIME_IMAGE, Operator, apply, condition, wait_for

pytestmark = pytest.mark.cluster

RUN_NOW = "dataops.dev/run-now"


def _status(kube: KubeClient, ns: str, name: str = "orders-daily") -> dict[str, Any]:
    body = kube.get(DATA_PIPELINE, ns, name) or {}
    return dict(body.get("status") or {})


def _drivers(kube: KubeClient, ns: str) -> list[dict[str, Any]]:
    return kube.list(POD, ns, label_selector="spark-role=driver")


def _events(kube: KubeClient, ns: str, name: str = "orders-daily") -> list[str]:
    return [e["reason"] for e in kube.list(EVENT, ns) if e["involvedObject"]["name"] == name]


def _pipeline(
    example_pipeline: dict[str, Any],
    *,
    annotations: dict[str, str] | None = None,
    pod_annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    doc = copy.deepcopy(example_pipeline)
    doc["spec"].pop("qualityGates")  # runs here need no suite
    doc["spec"]["schedule"]["cron"] = "0 0 1 1 *"  # far away: runs are started by run-now
    doc["spec"]["spark"] = {"podAnnotations": pod_annotations or {}}
    doc["spec"].update(spec)
    if annotations:
        doc["metadata"]["annotations"] = annotations
    return doc


def test_run_now_launches_driver_and_records_success(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    message = json.dumps({"rowsRead": {"orders": 200, "customers": 40}, "rowsWritten": {"revenue": 5}})
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
    assert run["trigger"] == "Manual" and run["attempt"] == 1 and run["id"].startswith("m")
    assert run["rowsWritten"] == [{"name": "revenue", "rows": 5}]
    assert {r["name"]: r["rows"] for r in run["rowsRead"]} == {"orders": 200, "customers": 40}
    assert run["startTime"] and run["completionTime"]
    assert status["activeRuns"] == [] and "currentRun" not in status
    assert [h["id"] for h in status["history"]] == [run["id"]]
    assert status["lastManualTrigger"] == "1"
    progressing = condition({"status": status}, "Progressing")
    assert progressing is not None and progressing["status"] == "False"
    degraded = condition({"status": status}, "Degraded")
    assert degraded is not None and (degraded["status"], degraded["reason"]) == ("False", "LastRunSucceeded")

    (pod,) = _drivers(kube, namespace)
    base = f"orders-daily-{run['id']}-1"
    assert pod["metadata"]["name"] == f"{base}-driver" == run["driverPod"]
    assert pod["spec"]["containers"][0]["image"] == RUNTIME_IMAGE
    assert pod["spec"]["nodeName"] == "kwok-node-0"
    # No driver Service: executors reach the driver at its pod IP (the image's entrypoint sets it).
    assert kube.list(SERVICE, namespace) == []
    # No ConfigMap per attempt either: the properties are the driver's --conf arguments, the executor
    # pod template is in the pipeline's plan ConfigMap.
    assert not [c for c in kube.list(CONFIG_MAP, namespace) if c["metadata"]["name"].startswith(base)]
    plan_map = kube.get(CONFIG_MAP, namespace, "orders-daily-plan")
    assert plan_map is not None and "executor-pod-template.yaml" in plan_map["data"]
    assert driver_properties(pod, plan_map["data"])["spark.kubernetes.driver.pod.name"] == f"{base}-driver"
    assert {"RunStarted", "RunSucceeded"} <= set(_events(kube, namespace))
    row = control_plane.kubectl("-n", namespace, "get", "dp", "orders-daily").stdout.splitlines()[1].split()
    assert row[1:4] == ["True", "Ready", "Succeeded"]


def test_reused_tokens_start_new_runs_and_old_drivers_are_retired(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_pipeline: dict[str, Any]
) -> None:
    """Issue 11 defect 5: a token used before starts a new run (it used to re-apply onto the old
    Succeeded pod); finished drivers beyond spec.finishedDrivers are deleted."""
    doc = _pipeline(example_pipeline, annotations={RUN_NOW: "a"}, finishedDrivers={"succeeded": 1})
    apply(kubectl, doc)
    seen: list[str] = []
    for number, token in enumerate(["a", "b", "a", "b"], start=1):
        if number > 1:
            kubectl("annotate", "--overwrite", "dp", "orders-daily", f"{RUN_NOW}={token}")
        status = wait_for(
            lambda n=number: (
                len(_status(kube, namespace).get("history") or []) == n
                and not _status(kube, namespace).get("activeRuns")
                and _status(kube, namespace)
            ),
            timeout=45,
            what=f"run {number} finished",
        )
        run = status["lastRun"]
        assert run["outcome"] == "Succeeded" and run["id"] not in seen
        seen.append(run["id"])
    # Only the newest finished driver is kept (plus, momentarily, the one just recorded).
    wait_for(lambda: len(_drivers(kube, namespace)) <= 2, timeout=30, what="old drivers retired")
    kept = {p["metadata"]["labels"]["dataops.dev/run-id"] for p in _drivers(kube, namespace)}
    assert seen[-1] in kept and seen[0] not in kept


def test_failure_retry_then_success(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_pipeline: dict[str, Any]
) -> None:
    doc = _pipeline(
        example_pipeline,
        annotations={RUN_NOW: "go"},
        pod_annotations={"kwok.dataops.dev/fail-attempts": "1"},
        retry={"maxRetries": 2, "backoffSeconds": 1, "maxBackoffSeconds": 5},
    )
    apply(kubectl, doc)
    status = wait_for(
        lambda: (
            (_status(kube, namespace).get("lastRun") or {}).get("outcome") == "Succeeded"
            and _status(kube, namespace)
        ),
        timeout=60,
        what="second attempt succeeded",
    )
    assert status["lastRun"]["attempt"] == 2
    pods = sorted(
        p["metadata"]["labels"]["dataops.dev/attempt"] + p["status"]["phase"]
        for p in _drivers(kube, namespace)
    )
    assert pods == ["1Failed", "2Succeeded"]
    events = _events(kube, namespace)
    assert "RunAttemptFailed" in events and "RunSucceeded" in events
    assert "Degraded" not in [c["type"] for c in status["conditions"] if c["status"] == "True"]


def test_exhausted_retries_leave_pipeline_degraded(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    doc = _pipeline(
        example_pipeline,
        annotations={RUN_NOW: "go"},
        pod_annotations={"kwok.dataops.dev/fail-attempts": "99"},
        retry={"maxRetries": 1, "backoffSeconds": 1, "maxBackoffSeconds": 1},
    )
    apply(kubectl, doc)
    degraded = wait_for(
        lambda: (
            (condition({"status": _status(kube, namespace)}, "Degraded") or {}).get("status") == "True"
            and condition({"status": _status(kube, namespace)}, "Degraded")
        ),
        timeout=60,
        what="Degraded",
    )
    assert degraded["reason"] == "RetriesExhausted"
    assert "simulated driver failure on attempt 2" in degraded["message"]
    status = _status(kube, namespace)
    assert status["phase"] == "Degraded"
    assert (status["lastRun"]["outcome"], status["lastRun"]["attempt"]) == ("Failed", 2)
    # Ready is data-aware: configured, but the last run failed.
    ready = condition({"status": status}, "Ready") or {}
    assert (ready.get("status"), ready.get("reason")) == ("False", "LastRunFailed")
    assert "simulated driver failure on attempt 2" in ready["message"]
    configured = condition({"status": status}, "Configured") or {}
    assert (configured.get("status"), configured.get("reason")) == ("True", "Reconciled")
    assert len(_drivers(kube, namespace)) == 2
    assert "RunFailed" in _events(kube, namespace)
    assert (
        "Warning"
        in control_plane.kubectl("-n", namespace, "get", "events", "--field-selector=reason=RunFailed").stdout
    )


def test_timeout_kills_the_driver(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_pipeline: dict[str, Any]
) -> None:
    doc = _pipeline(
        example_pipeline,
        annotations={RUN_NOW: "go"},
        pod_annotations={"kwok.dataops.dev/hang": "true"},
        timeoutSeconds=3,
        retry={"maxRetries": 0},
    )
    apply(kubectl, doc)
    status = wait_for(
        lambda: (
            (_status(kube, namespace).get("lastRun") or {}).get("outcome") == "Failed"
            and _status(kube, namespace)
        ),
        timeout=45,
        what="run timed out",
    )
    assert status["lastRun"]["message"] == "timed out after 3s"
    wait_for(lambda: not _drivers(kube, namespace), timeout=30, what="driver pod deleted")
    assert "RunTimedOut" in _events(kube, namespace)


def test_operator_restart_keeps_track_of_running_and_finished_runs(
    operator: Operator, kube: KubeClient, kubectl: Any, namespace: str, example_pipeline: dict[str, Any]
) -> None:
    doc = _pipeline(
        example_pipeline, annotations={RUN_NOW: "go"}, pod_annotations={"kwok.dataops.dev/hang": "true"}
    )
    apply(kubectl, doc)
    wait_for(
        lambda: (_status(kube, namespace).get("currentRun") or {}).get("outcome") == "Running",
        timeout=30,
        what="run running",
    )
    run_id = _status(kube, namespace)["currentRun"]["id"]
    operator.kill()
    operator.start()
    time.sleep(5)
    assert [p["metadata"]["name"] for p in _drivers(kube, namespace)] == [f"orders-daily-{run_id}-1-driver"]
    assert _status(kube, namespace)["currentRun"]["id"] == run_id
    # Let the driver finish: the restarted operator records the same run as succeeded.
    kubectl("annotate", "pod", f"orders-daily-{run_id}-1-driver", "kwok.dataops.dev/hang-")
    wait_for(
        lambda: (_status(kube, namespace).get("lastRun") or {}).get("outcome") == "Succeeded",
        timeout=30,
        what="run succeeded after restart",
    )
    operator.kill()
    operator.start()
    time.sleep(5)
    status = _status(kube, namespace)
    assert [h["id"] for h in status["history"]] == [run_id]
    assert len(_drivers(kube, namespace)) == 1, "a finished run was resubmitted"


def _direct(cp: ControlPlane, kube: KubeClient, ns: str, now: datetime) -> Any:
    body = kube.get(DATA_PIPELINE, ns, "orders-daily")
    assert body is not None
    client = KubeClient.from_kubeconfig(str(cp.kubeconfig))
    return reconcile_pipeline(client, body, config=RunConfig(image=RUNTIME_IMAGE), now=now)


def test_schedule_with_injected_clock(
    control_plane: ControlPlane, kube: KubeClient, manual_namespace: str, example_pipeline: dict[str, Any]
) -> None:
    ns = manual_namespace
    doc = _pipeline(example_pipeline, pod_annotations={"kwok.dataops.dev/hang": "true"})
    doc["spec"]["schedule"] = {"cron": "*/5 * * * *", "timeZone": "UTC", "concurrencyPolicy": "Forbid"}
    control_plane.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(doc))
    created = datetime.fromisoformat(
        kube.get(DATA_PIPELINE, ns, "orders-daily")["metadata"]["creationTimestamp"].replace("Z", "+00:00")
    )  # type: ignore[index]
    slot = created.replace(second=0, microsecond=0) + timedelta(minutes=5 - created.minute % 5)

    before = _direct(control_plane, kube, ns, slot - timedelta(seconds=1))
    assert before.launched == [] and before.requeue_after == pytest.approx(1, abs=0.6)
    first = _direct(control_plane, kube, ns, slot + timedelta(seconds=2))
    (pod_name,) = first.launched
    status = _status(kube, ns)
    assert status["currentRun"]["trigger"] == "Schedule"
    assert status["currentRun"]["scheduledTime"] == slot.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _direct(control_plane, kube, ns, slot + timedelta(seconds=3)).launched == []  # idempotent
    wait_for(
        lambda: (kube.get(POD, ns, pod_name) or {}).get("status", {}).get("phase") == "Running",
        what="driver running",
    )

    # Forbid: the next slot is skipped while the first run is still running.
    skipped = _direct(control_plane, kube, ns, slot + timedelta(minutes=5, seconds=1))
    assert skipped.launched == [] and "Normal/RunSkipped" in skipped.events

    # Replace: the running run is cancelled and its driver deleted.
    control_plane.kubectl(
        "-n",
        ns,
        "patch",
        "dp",
        "orders-daily",
        "--type=merge",
        "-p",
        '{"spec":{"schedule":{"concurrencyPolicy":"Replace"}}}',
    )
    replaced = _direct(control_plane, kube, ns, slot + timedelta(minutes=10, seconds=1))
    assert len(replaced.launched) == 1 and replaced.launched != [pod_name]
    assert "Normal/RunCancelled" in replaced.events
    wait_for(lambda: kube.get(POD, ns, pod_name) is None, timeout=30, what="replaced driver deleted")
    status = _status(kube, ns)
    assert status["lastRun"]["outcome"] == "Cancelled"

    # Suspend: no new runs from the schedule.
    control_plane.kubectl(
        "-n", ns, "patch", "dp", "orders-daily", "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )
    assert _direct(control_plane, kube, ns, slot + timedelta(minutes=15, seconds=1)).launched == []


def test_spark_operator_backend(
    control_plane: ControlPlane, kube: KubeClient, manual_namespace: str, example_pipeline: dict[str, Any]
) -> None:
    """With backend SparkOperator a SparkApplication is emitted; this test plays the Spark Operator."""
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(SPARK_APPLICATION_CRD))
    control_plane.kubectl("wait", "--for=condition=Established", "crd/sparkapplications.sparkoperator.k8s.io")
    ns = manual_namespace
    doc = _pipeline(example_pipeline, annotations={RUN_NOW: "go"})
    doc["spec"]["spark"]["backend"] = "SparkOperator"
    control_plane.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(doc))
    now = datetime.now(UTC)
    outcome = _direct(control_plane, kube, ns, now)
    (launched,) = outcome.launched
    (app,) = kube.list(SPARK_APPLICATION, ns)
    assert app["metadata"]["name"] == launched.removesuffix("-driver")
    assert app["spec"]["mainApplicationFile"] == "local:///opt/dataops/spark_job.py"
    assert _drivers(kube, ns) == []
    app["status"] = {"applicationState": {"state": "COMPLETED"}, "terminationTime": "2026-11-25T10:00:00Z"}
    kube.request("PUT", SPARK_APPLICATION.path(ns, app["metadata"]["name"], "status"), body=app)
    _direct(control_plane, kube, ns, now + timedelta(seconds=5))
    assert _status(kube, ns)["lastRun"]["outcome"] == "Succeeded"


SPARK_APPLICATION_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {
        "name": "sparkapplications.sparkoperator.k8s.io",
        # the real CRD is served under a protected *.k8s.io group and carries this annotation too
        "annotations": {"api-approved.kubernetes.io": "unapproved, experimental-only"},
    },
    "spec": {
        "group": "sparkoperator.k8s.io",
        "names": {"kind": "SparkApplication", "plural": "sparkapplications", "singular": "sparkapplication"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1beta2",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
