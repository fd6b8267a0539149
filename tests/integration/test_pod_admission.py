"""The operator's pods against the API server's admission: they pass the restricted PodSecurity level,
and a launch the server refuses (here a ResourceQuota of zero pods) is a failed attempt with the
server's message, retried per spec.retry, then Degraded, never a loop (issue 11, defect 1)."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import ActiveValidation, DataQualitySuiteSpec
from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import DATA_PIPELINE, DATA_QUALITY_SUITE, EVENT, POD, KubeClient
from dataops.plan.children import Owner, build_plan_config_map
from dataops.plan.runplan import build_run_plan
from dataops.plan.spark_driver import Launch, build_native_run
from dataops.plan.validation import build_validator_pod
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from tests.integration.conftest import RUNTIME_IMAGE, Operator, apply, condition, wait_for
from tests.unit.podsecurity import restricted_violations

pytestmark = pytest.mark.cluster

RUN_NOW = "dataops.dev/run-now"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


class CountingClient(KubeClient):
    """Counts the driver pods the reconcile tries to create (accepted or refused)."""

    pod_applies: int = 0

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        if manifest["kind"] == "Pod":
            self.pod_applies += 1
        return super().apply(manifest)


def _pipeline(example_pipeline: dict[str, Any], **spec: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example_pipeline)
    doc["spec"].pop("qualityGates")
    doc["spec"]["schedule"]["cron"] = "0 0 1 1 *"
    doc["spec"]["spark"] = {"podAnnotations": {"kwok.dataops.dev/hang": "true"}}
    doc["spec"].update(spec)
    doc["metadata"]["annotations"] = {RUN_NOW: "go"}
    return doc


def _no_pods_quota(cp: ControlPlane, ns: str) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-pods"},
        "spec": {"hard": {"pods": "0"}},
    }
    cp.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(quota))
    # Until the quota controller has computed its usage the server says "status unknown for quota".
    wait_for(
        lambda: (
            cp.kubectl(
                "-n", ns, "get", "resourcequota", "no-pods", "-o", "jsonpath={.status.hard.pods}"
            ).stdout
            == "0"
        ),
        timeout=30,
        what="the quota's status",
    )


def _events(kube: KubeClient, ns: str, name: str) -> list[str]:
    return [e["reason"] for e in kube.list(EVENT, ns) if e["involvedObject"]["name"] == name]


def test_refused_driver_is_retried_per_policy_then_degraded(
    control_plane: ControlPlane, kube: KubeClient, manual_namespace: str, example_pipeline: dict[str, Any]
) -> None:
    """With an injected clock: exactly 1 + maxRetries create attempts, then Degraded, then nothing."""
    ns = manual_namespace
    _no_pods_quota(control_plane, ns)
    doc = _pipeline(example_pipeline, retry={"maxRetries": 2, "backoffSeconds": 2, "maxBackoffSeconds": 4})
    control_plane.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(doc))
    client = CountingClient.from_kubeconfig(str(control_plane.kubeconfig))
    assert isinstance(client, CountingClient)
    start = datetime.now(UTC).replace(microsecond=0)
    for second in range(40):
        body = kube.get(DATA_PIPELINE, ns, "orders-daily")
        assert body is not None
        reconcile_pipeline(
            client, body, config=RunConfig(image=RUNTIME_IMAGE), now=start + timedelta(seconds=second)
        )
    assert client.pod_applies == 3
    status = (kube.get(DATA_PIPELINE, ns, "orders-daily") or {})["status"]
    last = status["lastRun"]
    assert (last["outcome"], last["attempt"]) == ("Failed", 3)
    assert last["message"].startswith(
        f'driver pod rejected: pods "orders-daily-{last["id"]}-3-driver" is forbidden'
    )
    assert "exceeded quota: no-pods" in last["message"]
    degraded = condition({"status": status}, "Degraded")
    assert degraded is not None and degraded["status"] == "True" and "exceeded quota" in degraded["message"]
    assert status["activeRuns"] == [] and kube.list(POD, ns) == []
    events = _events(kube, ns, "orders-daily")
    assert events.count("RunStarted") == 3 and events.count("RunAttemptFailed") == 2
    assert events.count("RunFailed") == 1


def test_operator_degrades_a_refused_pipeline_within_bounds(
    operator: Operator,
    control_plane: ControlPlane,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
) -> None:
    """The running operator: Degraded with the server's reason within seconds, and it stays put."""
    _no_pods_quota(control_plane, namespace)
    started = time.monotonic()
    apply(
        kubectl, _pipeline(example_pipeline, retry={"maxRetries": 1, "backoffSeconds": 1}, timeoutSeconds=60)
    )

    def degraded_now() -> dict[str, Any] | None:
        found = condition(kube.get(DATA_PIPELINE, namespace, "orders-daily"), "Degraded")
        return found if found and found["status"] == "True" else None

    degraded = wait_for(degraded_now, timeout=30, what="Degraded after the refused launches")
    assert time.monotonic() - started < 30
    assert degraded["reason"] == "RetriesExhausted" and "exceeded quota: no-pods" in degraded["message"]
    first = (kube.get(DATA_PIPELINE, namespace, "orders-daily") or {})["status"]["lastRun"]
    assert (first["outcome"], first["attempt"]) == ("Failed", 2)
    time.sleep(5)  # resyncs run every 3s: nothing is launched again
    again = (kube.get(DATA_PIPELINE, namespace, "orders-daily") or {})["status"]
    assert again["lastRun"] == first and again["activeRuns"] == []
    assert _events(kube, namespace, "orders-daily").count("RunStarted") == 2


def test_refused_validation_pod_ends_the_run_with_the_message(
    operator: Operator,
    control_plane: ControlPlane,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_suite: dict[str, Any],
) -> None:
    _no_pods_quota(control_plane, namespace)
    doc = copy.deepcopy(example_suite)
    doc["spec"]["dataset"] = {"path": "s3a://lake/sales/orders", "format": "parquet"}
    doc["metadata"]["annotations"] = {RUN_NOW: "1"}
    apply(kubectl, doc)
    name = doc["metadata"]["name"]
    result = wait_for(
        lambda: ((kube.get(DATA_QUALITY_SUITE, namespace, name) or {}).get("status") or {}).get("lastResult"),
        timeout=30,
        what="the refused validation's result",
    )
    assert result["error"].startswith("validation pod rejected: ") and "exceeded quota" in result["error"]
    time.sleep(4)
    status = (kube.get(DATA_QUALITY_SUITE, namespace, name) or {})["status"]
    assert status.get("active") is None and status["lastResult"] == result


# -- the restricted PodSecurity level ---------------------------------------------------------------


@pytest.fixture
def restricted_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A namespace the session operator watches, enforcing the restricted level."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.kubectl("label", "namespace", name, *(f"{k}={v}" for k, v in RESTRICTED.items()))
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _dry_run(cp: ControlPlane, ns: str, pod: dict[str, Any]) -> tuple[bool, str]:
    result = cp.kubectl("-n", ns, "apply", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    return result.returncode == 0, result.stderr


def _pods(example_pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    owner = Owner(kind="DataPipeline", name="orders-daily", namespace="x", uid="u")
    launch = Launch(
        owner=owner, run_id="m1", attempt=1, image=RUNTIME_IMAGE, api_server_url="https://10.0.0.9:6443"
    )
    spec = DataPipelineSpec.model_validate(_pipeline(example_pipeline)["spec"])
    (driver,) = build_native_run(launch, spec)
    plan = build_run_plan(name=owner.name, namespace=owner.namespace, spec=spec)
    plan_map = build_plan_config_map(owner=owner, plan=plan, spark=spec.spark)
    template = yaml.safe_load(plan_map["data"]["executor-pod-template.yaml"])
    template["metadata"] = {"name": "executor-from-template"}
    template["spec"]["containers"][0]["image"] = RUNTIME_IMAGE
    suite = DataQualitySuiteSpec.model_validate(
        {
            "dataset": {"path": "/d"},
            "expectations": [{"type": "expect_column_values_to_not_be_null", "column": "id"}],
        }
    )
    active = ActiveValidation(
        run_id="v1", pod="q-v1-validator", trigger="Manual", start_time=datetime.now(UTC)
    )
    validator = build_validator_pod(
        Owner(kind="DataQualitySuite", name="q", namespace="x", uid="u"),
        active,
        suite,
        image="img",
        lineage_transport="none",
    )
    pods = {"driver": driver, "executor template": template, "validator": validator}
    for pod in pods.values():
        pod["metadata"].pop("namespace", None)
        pod["metadata"].pop("ownerReferences", None)  # the owner does not exist here
    return pods


def test_every_pod_passes_restricted_admission_and_the_checker_agrees(
    control_plane: ControlPlane, restricted_namespace: str, example_pipeline: dict[str, Any]
) -> None:
    for what, pod in _pods(example_pipeline).items():
        admitted, error = _dry_run(control_plane, restricted_namespace, pod)
        assert admitted, f"{what}: {error}"
        assert restricted_violations(pod) == [], what
    # The checker and the server agree on pods that break one rule each.
    driver = _pods(example_pipeline)["driver"]
    breakers: dict[str, Callable[[dict[str, Any]], Any]] = {
        "no seccomp": lambda p: p["spec"]["securityContext"].pop("seccompProfile"),
        "root": lambda p: p["spec"]["securityContext"].update(runAsUser=0),
        "escalation": lambda p: p["spec"]["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
        "capabilities": lambda p: p["spec"]["containers"][0]["securityContext"].update(capabilities={}),
        "hostPath": lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/tmp"}}),
        "hostPort": lambda p: p["spec"]["containers"][0]["ports"].append({"containerPort": 9, "hostPort": 9}),
    }
    for what, change in breakers.items():
        pod = copy.deepcopy(driver)
        change(pod)
        admitted, error = _dry_run(control_plane, restricted_namespace, pod)
        assert not admitted and "violates PodSecurity" in error, what
        assert restricted_violations(pod), what


def test_runs_launch_in_a_restricted_namespace(
    operator: Operator,
    control_plane: ControlPlane,
    kube: KubeClient,
    restricted_namespace: str,
    example_pipeline: dict[str, Any],
) -> None:
    ns = restricted_namespace
    control_plane.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(_pipeline(example_pipeline)))
    wait_for(
        lambda: (
            (
                (kube.get(DATA_PIPELINE, ns, "orders-daily") or {}).get("status", {}).get("currentRun") or {}
            ).get("outcome")
            == "Running"
        ),
        timeout=45,
        what="the driver admitted and running",
    )
    (driver,) = kube.list(POD, ns, label_selector="spark-role=driver")
    assert restricted_violations(driver) == []
    assert "Degraded" not in [
        c["type"]
        for c in (kube.get(DATA_PIPELINE, ns, "orders-daily") or {})["status"]["conditions"]
        if c["status"] == "True"
    ]
