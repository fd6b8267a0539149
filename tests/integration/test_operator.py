"""The operator against the real control plane: status, children, references, policies, idempotency."""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import (
    CONFIG_MAP,
    DATA_PIPELINE,
    DATA_POLICY,
    DATA_QUALITY_SUITE,
    EVENT,
    ROLE,
    ROLE_BINDING,
    SERVICE_ACCOUNT,
    KubeClient,
)
from dataops.reconcile.pipeline import reconcile_pipeline
from tests.conftest import EXAMPLES
from tests.integration.conftest import Operator, apply, condition, wait_for

pytestmark = pytest.mark.cluster

CHILD_TYPES = (CONFIG_MAP, SERVICE_ACCOUNT, ROLE, ROLE_BINDING)
MANAGED = "app.kubernetes.io/managed-by=dataops-operator"


def _pipeline(kube: KubeClient, ns: str, name: str = "orders-daily") -> dict[str, Any] | None:
    return kube.get(DATA_PIPELINE, ns, name)


def _ready(kube: KubeClient, ns: str, name: str, status: str = "True", reason: str | None = None) -> Any:
    def check() -> Any:
        cond = condition(_pipeline(kube, ns, name), "Ready")
        return (
            cond
            if cond and cond["status"] == status and (reason is None or cond["reason"] == reason)
            else None
        )

    return check


def _children(kube: KubeClient, ns: str, pipeline: str) -> dict[str, list[str]]:
    selector = f"{MANAGED},dataops.dev/pipeline={pipeline}"
    return {
        rt.kind: sorted(o["metadata"]["name"] for o in kube.list(rt, ns, label_selector=selector))
        for rt in CHILD_TYPES
    }


def test_examples_apply_and_become_ready(
    operator: Operator, control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    control_plane.kubectl("-n", namespace, "apply", "-f", str(EXAMPLES))
    control_plane.kubectl(
        "-n", namespace, "wait", "--for=condition=Ready", "datapipeline/orders-daily", "--timeout=60s"
    )
    table = control_plane.kubectl("-n", namespace, "get", "datapipelines").stdout
    header, row = table.splitlines()[:2]
    assert header.split()[:5] == ["NAME", "READY", "PHASE", "LAST", "RUN"]
    assert row.split()[:3] == ["orders-daily", "True", "Ready"]
    everything = control_plane.kubectl("-n", namespace, "get", "dataops").stdout
    assert "datapipeline.dataops.dev/orders-daily" in everything
    assert "dataqualitysuite.dataops.dev/orders-quality" in everything
    assert "datapolicy.dataops.dev/sales-governance" in everything
    wait_for(
        lambda: (
            (kube.get(DATA_POLICY, namespace, "sales-governance") or {})
            .get("status", {})
            .get("selectedPipelines")
            == 1
        ),
        what="policy counts the pipeline",
    )
    short = control_plane.kubectl("-n", namespace, "get", "dp,dqs,dpol", "-o", "name").stdout.split()
    assert len(short) == 3

    body = _pipeline(kube, namespace)
    assert body is not None
    status = body["status"]
    assert status["observedGeneration"] == body["metadata"]["generation"]
    assert status["phase"] == "Ready"
    assert status["planConfigMap"] == "orders-daily-plan"
    assert {c["type"] for c in status["conditions"]} >= {
        "Ready",
        "PolicyCompliant",
        "ReferencesResolved",
        "Progressing",
        "Degraded",
    }
    assert all(c["observedGeneration"] == 1 for c in status["conditions"])
    assert not any(k.startswith("kopf") for k in body["metadata"].get("annotations", {}))
    assert "finalizers" not in body["metadata"], "in-cluster children need no finalizer"

    children = _children(kube, namespace, "orders-daily")
    assert children == {
        "ConfigMap": ["orders-daily-plan"],
        "ServiceAccount": ["orders-daily-runner"],
        "Role": ["orders-daily-runner"],
        "RoleBinding": ["orders-daily-runner"],
    }
    plan = kube.get(CONFIG_MAP, namespace, "orders-daily-plan")
    assert plan is not None
    owner = plan["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "DataPipeline" and owner["uid"] == body["metadata"]["uid"] and owner["controller"]
    assert plan["metadata"]["annotations"]["dataops.dev/plan-hash"] == status["planHash"]
    # The referenced suite travels with the plan, so the driver can evaluate the gate.
    suites = json.loads(plan["data"]["plan.json"])["suites"]
    assert list(suites) == ["orders-quality"] and len(suites["orders-quality"]["expectations"]) == 5
    managers = {m["manager"] for m in plan["metadata"]["managedFields"]}
    assert managers == {"dataops-operator"}
    assert all(m["operation"] == "Apply" for m in plan["metadata"]["managedFields"])

    events = control_plane.kubectl(
        "-n", namespace, "get", "events", "--field-selector=involvedObject.name=orders-daily", "-o", "json"
    ).stdout
    assert '"reason": "Reconciled"' in events


def test_deleting_pipeline_garbage_collects_children(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
) -> None:
    apply(kubectl, example_suite, example_pipeline)
    wait_for(_ready(kube, namespace, "orders-daily"), what="pipeline Ready")
    assert all(_children(kube, namespace, "orders-daily").values())
    kubectl("delete", "datapipeline", "orders-daily", "--wait=true", "--timeout=30s")
    wait_for(
        lambda: not any(_children(kube, namespace, "orders-daily").values()),
        timeout=60,
        what="children removed by garbage collection",
    )


def test_missing_suite_then_created_resolves_without_touching_pipeline(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    apply(kubectl, example_pipeline)
    cond = wait_for(
        _ready(kube, namespace, "orders-daily", "False", "QualitySuiteNotFound"),
        what="Ready=False QualitySuiteNotFound",
    )
    assert "orders-quality" in cond["message"]
    refs = condition(_pipeline(kube, namespace), "ReferencesResolved")
    assert refs is not None and refs["status"] == "False"
    body = _pipeline(kube, namespace)
    assert body is not None and body["status"]["phase"] == "Blocked"
    generation = body["metadata"]["generation"]
    warning = wait_for(
        lambda: (
            "QualitySuiteNotFound"
            in control_plane.kubectl("-n", namespace, "get", "events", "--field-selector=type=Warning").stdout
        ),
        what="warning event",
    )
    assert warning

    apply(kubectl, example_suite)
    wait_for(_ready(kube, namespace, "orders-daily"), what="pipeline Ready after suite appears")
    body = _pipeline(kube, namespace)
    assert body is not None and body["metadata"]["generation"] == generation

    kubectl("delete", "dataqualitysuite", "orders-quality")
    wait_for(
        _ready(kube, namespace, "orders-daily", "False", "QualitySuiteNotFound"),
        what="Ready=False again once the suite is deleted",
    )


def test_policy_selection_is_reflected_in_pipeline_status(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
    example_policy: dict[str, Any],
) -> None:
    example_policy["spec"]["allowedSinks"] = ["s3a://approved-bucket/*"]
    example_policy["spec"]["retention"] = {"maxDays": 90}
    # The pipeline exists before the policy (the API server would refuse it afterwards).
    apply(kubectl, example_suite, example_pipeline)
    apply(kubectl, example_policy)

    cond = wait_for(
        _ready(kube, namespace, "orders-daily", "False", "PolicyViolation"), what="blocked by policy"
    )
    assert "sales-governance" in cond["message"]
    compliant = condition(_pipeline(kube, namespace), "PolicyCompliant")
    assert compliant is not None and compliant["status"] == "False"
    assert "no allowedSinks pattern matches" in compliant["message"]
    assert "keeps data 365 days; policy allows 90" in compliant["message"]
    body = _pipeline(kube, namespace)
    assert body is not None
    assert body["status"]["policy"]["policies"] == ["sales-governance"]
    assert len(body["status"]["policy"]["violations"]) == 2
    policy = wait_for(
        lambda: (
            (kube.get(DATA_POLICY, namespace, "sales-governance") or {})
            .get("status", {})
            .get("violatingPipelines")
            == 1
            and kube.get(DATA_POLICY, namespace, "sales-governance")
        ),
        what="policy status counts the violation",
    )
    assert policy["status"]["violations"][0]["pipeline"] == "orders-daily"

    # Audit mode reports but does not block.
    audit = copy.deepcopy(example_policy)
    audit["spec"]["enforcement"] = "Audit"
    apply(kubectl, audit)
    wait_for(_ready(kube, namespace, "orders-daily"), what="Ready once the policy only audits")
    compliant = condition(_pipeline(kube, namespace), "PolicyCompliant")
    assert compliant is not None and (compliant["status"], compliant["reason"]) == (
        "False",
        "PolicyViolationAudited",
    )

    # A pipeline the selector no longer matches is no longer governed by it (a label change is checked
    # by the admission policy, which now only warns once the API server has its new binding).
    wait_for(
        lambda: (
            kubectl(
                "label",
                "datapipeline",
                "orders-daily",
                "team=marketing",
                "--overwrite",
                "--dry-run=server",
                check=False,
            ).returncode
            == 0
        ),
        what="the audit-only binding",
    )
    kubectl("label", "datapipeline", "orders-daily", "team=marketing", "--overwrite")
    wait_for(
        lambda: (
            (condition(_pipeline(kube, namespace), "PolicyCompliant") or {}).get("reason")
            == "NoPolicySelected"
        ),
        what="pipeline leaves the policy",
    )
    wait_for(
        lambda: (
            (kube.get(DATA_POLICY, namespace, "sales-governance") or {})
            .get("status", {})
            .get("selectedPipelines")
            == 0
        ),
        timeout=30,
        what="policy no longer selects the pipeline",
    )


def test_transition_time_moves_only_on_transitions(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
) -> None:
    apply(kubectl, example_suite, example_pipeline)
    first = wait_for(_ready(kube, namespace, "orders-daily"), what="Ready")
    time.sleep(1.1)  # timestamps have second precision
    example_pipeline["spec"]["sinks"][0]["path"] = "/tmp/dataops-lake/curated/revenue_v2"
    apply(kubectl, example_pipeline)
    wait_for(
        lambda: (_pipeline(kube, namespace) or {}).get("status", {}).get("observedGeneration") == 2,
        what="observedGeneration 2",
    )
    after = condition(_pipeline(kube, namespace), "Ready")
    assert after is not None
    assert after["status"] == "True" and after["observedGeneration"] == 2
    assert after["lastTransitionTime"] == first["lastTransitionTime"]
    plan = kube.get(CONFIG_MAP, namespace, "orders-daily-plan")
    assert plan is not None and "revenue_v2" in plan["data"]["plan.json"]


def test_second_reconcile_makes_no_writes(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
    example_policy: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    apply(kubectl, example_suite, example_policy, example_pipeline)
    wait_for(_ready(kube, namespace, "orders-daily"), what="Ready")
    time.sleep(4)  # let the operator settle (one resync period)

    # Directly: a reconcile of the unchanged object issues reads only.
    counting = KubeClient.from_kubeconfig(str(control_plane.kubeconfig))
    body = _pipeline(counting, namespace)
    assert body is not None
    outcome = reconcile_pipeline(counting, body)
    assert not outcome.status_written and outcome.children_written == 0
    assert counting.write_count == 0, dict(counting.requests)
    assert counting.requests["GET"] > 0

    # Through the running operator: resync periods and fan-out events change no resourceVersion.
    def versions() -> dict[str, str]:
        out = {"pipeline": _pipeline(kube, namespace)["metadata"]["resourceVersion"]}  # type: ignore[index]
        for rt in CHILD_TYPES:
            for obj in kube.list(rt, namespace, label_selector=MANAGED):
                out[f"{rt.kind}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
        for rt, name in ((DATA_POLICY, "sales-governance"), (DATA_QUALITY_SUITE, "orders-quality")):
            out[name] = kube.get(rt, namespace, name)["metadata"]["resourceVersion"]  # type: ignore[index]
        return out

    before = versions()
    unrelated = copy.deepcopy(example_suite)
    unrelated["metadata"]["name"] = "unrelated-suite"
    apply(kubectl, unrelated)  # triggers pipeline and policy fan-out reconciles
    time.sleep(7)  # two resync periods
    assert versions() == before


def test_operator_corrects_drift_of_children(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
) -> None:
    apply(kubectl, example_suite, example_pipeline)
    wait_for(_ready(kube, namespace, "orders-daily"), what="Ready")
    kubectl("patch", "configmap", "orders-daily-plan", "--type=merge", "-p", '{"data":{"plan.json":"{}"}}')
    wait_for(
        lambda: (
            (kube.get(CONFIG_MAP, namespace, "orders-daily-plan") or {})
            .get("data", {})
            .get("plan.json", "{}")
            != "{}"
        ),
        what="plan ConfigMap restored",
    )
    kubectl("delete", "rolebinding", "orders-daily-runner")
    wait_for(lambda: kube.get(ROLE_BINDING, namespace, "orders-daily-runner"), what="RoleBinding recreated")


def test_operator_restart_creates_no_duplicates(
    operator: Operator,
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
) -> None:
    pipelines = []
    for i in range(15):
        doc = copy.deepcopy(example_pipeline)
        doc["metadata"]["name"] = f"orders-{i}"
        pipelines.append(doc)
    apply(kubectl, example_suite, *pipelines)
    time.sleep(0.3)
    operator.kill()  # in the middle of the work
    operator.start()
    for doc in pipelines:
        wait_for(
            _ready(kube, namespace, doc["metadata"]["name"]),
            timeout=60,
            what=f"{doc['metadata']['name']} Ready",
        )
    for rt in CHILD_TYPES:
        objects = kube.list(rt, namespace, label_selector=MANAGED)
        names = [o["metadata"]["name"] for o in objects]
        assert len(names) == len(set(names)) == len(pipelines), (rt.kind, names)
        for obj in objects:
            assert len(obj["metadata"]["ownerReferences"]) == 1
    ready_events = kube.list(EVENT, namespace)
    per_pipeline: dict[str, int] = {}
    for event in ready_events:
        if event["reason"] == "Reconciled" and event["involvedObject"]["kind"] == "DataPipeline":
            name = event["involvedObject"]["name"]
            per_pipeline[name] = per_pipeline.get(name, 0) + 1
    assert per_pipeline and max(per_pipeline.values()) == 1, per_pipeline
    assert operator.alive


def test_unparseable_spec_is_reported_not_crashed(
    kube: KubeClient,
    kubectl: Any,
    namespace: str,
    example_pipeline: dict[str, Any],
    control_plane: ControlPlane,
) -> None:
    """An object the models cannot read (e.g. written under an older CRD) is reported in status."""
    apply(kubectl, example_pipeline)
    body = wait_for(lambda: _pipeline(kube, namespace), what="pipeline stored")
    body["spec"]["sinks"][0]["mode"] = "upsert"  # as an older schema might have allowed
    client = KubeClient.from_kubeconfig(str(control_plane.kubeconfig))
    outcome = reconcile_pipeline(client, body)
    assert outcome.status_written and outcome.events == ["Warning/InvalidSpec"]
    # The running operator may already have converged the stored (valid) object again: read the Event.
    events = [e for e in kube.list(EVENT, namespace) if e["involvedObject"]["name"] == "orders-daily"]
    invalid = [e for e in events if e["reason"] == "InvalidSpec"]
    assert len(invalid) == 1 and invalid[0]["type"] == "Warning"
    assert "spec.sinks[0].mode" in invalid[0]["message"]


def _http(port: int, path: str) -> tuple[int, str]:
    """(status, body); (0, error) while nothing listens yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def _leader_gauge(port: int) -> str | None:
    status, text = _http(port, "/metrics")
    found = re.search(r"^dataops_leader (\S+)$", text, re.MULTILINE) if status == 200 else None
    return found.group(1) if found else None


def test_leader_election_one_active_replica(
    control_plane: ControlPlane, kube: KubeClient, namespace: str
) -> None:
    """One replica reconciles; the standby serves /healthz (200), /readyz (200, standby) and /metrics while it
    waits for the lease (issue 11, defect 4: it served nothing, so its liveness probe killed it)."""
    from dataops.devcluster.controlplane import free_port
    from dataops.devcluster.dev import start_operator
    from dataops.kube.client import LEASE

    env = {
        "DATAOPS_LEADER_ELECTION": "true",
        "DATAOPS_LEADER_ELECTION_NAMESPACE": namespace,
        "DATAOPS_LEASE_DURATION_SECONDS": "4",
        "DATAOPS_NAMESPACE": namespace,
    }
    health_a, health_b, metrics_b = free_port(), free_port(), free_port()
    first = start_operator(
        control_plane,
        extra_env={**env, "DATAOPS_POD_NAME": "replica-a", "DATAOPS_HEALTH_PORT": str(health_a)},
    )
    try:
        lease = wait_for(lambda: kube.get(LEASE, namespace, "dataops-operator"), what="lease created")
        assert lease["spec"]["holderIdentity"] == "replica-a"
        wait_for(lambda: _http(health_a, "/readyz") == (200, "ok\n"), what="the leader ready")
        assert _http(health_a, "/healthz") == (200, "ok\n")
        second = start_operator(
            control_plane,
            extra_env={
                **env,
                "DATAOPS_POD_NAME": "replica-b",
                "DATAOPS_HEALTH_PORT": str(health_b),
                "DATAOPS_METRICS_PORT": str(metrics_b),
            },
        )
        try:
            wait_for(lambda: _http(health_b, "/healthz")[0] == 200, what="the standby's /healthz")
            for _ in range(6):  # all along the wait for the lease: alive, ready as a standby, not the leader
                assert _http(health_b, "/healthz") == (200, "ok\n")
                assert _http(health_b, "/readyz") == (200, "standby: waiting for the leader lease\n")
                assert _leader_gauge(metrics_b) == "0.0"
                time.sleep(1)
            lease = kube.get(LEASE, namespace, "dataops-operator")
            assert lease is not None and lease["spec"]["holderIdentity"] == "replica-a", (
                "standby took the lease"
            )
            first.kill()
            first.wait()
            lease = wait_for(
                lambda: (
                    (kube.get(LEASE, namespace, "dataops-operator") or {})
                    .get("spec", {})
                    .get("holderIdentity")
                    == "replica-b"
                    and kube.get(LEASE, namespace, "dataops-operator")
                ),
                timeout=20,
                what="standby takes over",
            )
            assert lease["spec"]["leaseTransitions"] == 1
            assert second.poll() is None
            wait_for(lambda: _http(health_b, "/readyz") == (200, "ok\n"), what="the new leader ready")
            assert _leader_gauge(metrics_b) == "1.0"
        finally:
            second.kill()
            second.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
