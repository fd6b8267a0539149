"""DataPolicies enforced by the real API server: the operator compiles each into a
ValidatingAdmissionPolicy + binding, and `kubectl apply` of a violating pipeline is refused (Enforce)
or warned about (Audit) before it is stored."""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane, bin_dir
from dataops.kube.admission import collect_orphans
from dataops.kube.client import (
    DATA_POLICY,
    VALIDATING_ADMISSION_POLICY,
    VALIDATING_ADMISSION_POLICY_BINDING,
    KubeClient,
)
from dataops.policy.admission import admission_name
from dataops.policy.locations import MAX_SEGMENTS, normalize_location
from dataops.reconcile.policy import FINALIZER, reconcile_policy
from tests.conftest import ROOT
from tests.integration.conftest import apply, condition, wait_for

pytestmark = pytest.mark.cluster

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def policy_doc(name: str = "governance", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": name},
        "spec": {
            "pipelineSelector": {"matchLabels": {"team": "sales"}},
            "enforcement": "Enforce",
            "allowedSinks": ["/lake/sales/*", "jdbc:postgresql://db/sales#*"],
            "retention": {"maxDays": 30},
            "requiredQualityGates": {"minGates": 1},
            **spec,
        },
    }


def pipeline_doc(
    name: str = "orders", *, path: str = "/lake/sales/orders", labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name, "labels": {"team": "sales"} if labels is None else labels},
        "spec": {
            "suspend": True,
            "sources": [{"name": "raw", "file": {"path": "/in/orders.csv", "format": "csv"}}],
            "qualityGates": [{"suiteRef": {"name": "checks"}, "action": "block"}],
            "sinks": [
                {
                    "name": "out",
                    "from": "raw",
                    "format": "delta",
                    "path": path,
                    "retentionDays": 7,
                    "retentionColumn": "order_date",
                }
            ],
        },
    }


def try_apply(kubectl: Kubectl, doc: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
    return kubectl("apply", *extra, "-f", "-", input=json.dumps(doc), check=False)


def refused(kubectl: Kubectl, doc: dict[str, Any], *extra: str) -> str | None:
    """The API server's refusal of ``doc``, or None when it was accepted."""
    result = try_apply(kubectl, doc, *extra)
    return result.stderr if result.returncode != 0 else None


def wait_ready(kube: KubeClient, namespace: str, name: str = "governance") -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        cond = condition(kube.get(DATA_POLICY, namespace, name), "AdmissionPolicyReady")
        return cond if cond and cond["status"] == "True" else None

    result: dict[str, Any] = wait_for(ready, timeout=60, what=f"AdmissionPolicyReady of {namespace}/{name}")
    return result


def test_violating_pipeline_is_refused_by_the_api_server(
    operator: Any, kube: KubeClient, namespace: str, kubectl: Kubectl, control_plane: ControlPlane
) -> None:
    apply(kubectl, policy_doc())
    cond = wait_ready(kube, namespace)
    assert cond["reason"] == "AdmissionEnforced"
    object_name = admission_name(namespace, "governance")
    binding = kube.get(VALIDATING_ADMISSION_POLICY_BINDING, None, object_name)
    assert binding is not None and binding["spec"]["validationActions"] == ["Deny"]
    assert FINALIZER in kube.get(DATA_POLICY, namespace, "governance")["metadata"]["finalizers"]

    bad = pipeline_doc(path="/lake/sales/../hr/salaries")
    # The API server picks up a new admission policy within a moment: poll (with dry runs, which store
    # nothing), never sleep a fixed time.
    wait_for(lambda: refused(kubectl, bad, "--dry-run=server"), timeout=30, what="the refusal")
    message = refused(kubectl, bad)
    assert message is not None
    assert f"DataPolicy {namespace}/governance" in message
    assert "spec.sinks[0].path '/lake/sales/../hr/salaries' (normalised '/lake/hr/salaries')" in message
    assert object_name in message
    assert kubectl("get", "datapipelines", "-o", "name").stdout.strip() == ""

    # A server-side dry run gives the same answer.
    dry = refused(kubectl, bad, "--dry-run=server")
    assert dry is not None and "spec.sinks[0].path" in dry and f"DataPolicy {namespace}/governance" in dry

    # Every violation is named, each with its field.
    worse = pipeline_doc(path="/elsewhere/x")
    worse["spec"]["sinks"][0]["retentionDays"] = 90
    worse["spec"]["qualityGates"][0]["action"] = "warn"
    worse["spec"]["sinks"].append(
        {
            "name": "db",
            "from": "raw",
            "format": "jdbc",
            "jdbc": {"url": "jdbc:postgresql://db/hr", "table": "people"},
        }
    )
    message = refused(kubectl, worse)
    assert message is not None
    for expected in (
        "spec.sinks[0].path '/elsewhere/x' matches no allowedSinks pattern",
        "spec.sinks[1].jdbc 'jdbc:postgresql://db/hr#people' matches no allowedSinks pattern",
        "spec.sinks[0].retentionDays is 90; policy allows at most 30",
        "spec.qualityGates has 0 blocking quality gate(s); policy requires at least 1",
    ):
        assert expected in message

    # Compliant pipelines, pipelines the selector does not pick, and other namespaces pass.
    assert refused(kubectl, pipeline_doc("good")) is None
    assert refused(kubectl, pipeline_doc("unlabelled", path="/elsewhere/x", labels={"team": "hr"})) is None
    other = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", other)
    try:
        result = control_plane.kubectl(
            "-n", other, "apply", "-f", "-", input=json.dumps(pipeline_doc(path="/elsewhere/x")), check=False
        )
        assert result.returncode == 0, result.stderr
    finally:
        control_plane.kubectl("delete", "namespace", other, "--wait=false", check=False)

    # A relabelling that brings a violating pipeline under the policy is refused too.
    relabel = pipeline_doc("unlabelled", path="/elsewhere/x")
    message = refused(kubectl, relabel)
    assert message is not None and "spec.sinks[0].path" in message


def test_editing_and_deleting_the_policy_take_effect(
    operator: Any, kube: KubeClient, namespace: str, kubectl: Kubectl
) -> None:
    apply(kubectl, policy_doc())
    wait_ready(kube, namespace)
    bad = pipeline_doc(path="/lake/marketing/leads")
    wait_for(lambda: refused(kubectl, bad, "--dry-run=server"), timeout=30, what="the refusal")

    edited = policy_doc()
    edited["spec"]["allowedSinks"].append("/lake/marketing/*")
    apply(kubectl, edited)
    wait_for(
        lambda: refused(kubectl, bad, "--dry-run=server") is None, timeout=30, what="the new pattern to apply"
    )

    object_name = admission_name(namespace, "governance")
    kubectl("delete", "datapolicy", "governance", "--wait=true", "--timeout=60s")
    wait_for(
        lambda: (
            kube.get(VALIDATING_ADMISSION_POLICY, None, object_name) is None
            and kube.get(VALIDATING_ADMISSION_POLICY_BINDING, None, object_name) is None
        ),
        timeout=30,
        what="the admission objects to go",
    )
    worse = pipeline_doc(path="/anywhere")
    wait_for(
        lambda: refused(kubectl, worse, "--dry-run=server") is None, timeout=30, what="the pipeline to pass"
    )
    assert refused(kubectl, worse) is None


def test_audit_mode_warns_and_accepts(
    operator: Any, kube: KubeClient, namespace: str, kubectl: Kubectl
) -> None:
    apply(kubectl, policy_doc(enforcement="Audit"))
    assert wait_ready(kube, namespace)["reason"] == "AdmissionAudited"
    bad = pipeline_doc(path="/elsewhere/x")

    def warned() -> str | None:
        result = try_apply(kubectl, bad, "--dry-run=server")
        assert result.returncode == 0, result.stderr
        return result.stderr if "Warning:" in result.stderr else None

    warning = wait_for(warned, timeout=30, what="the warning")
    assert f"DataPolicy {namespace}/governance" in warning and "spec.sinks[0].path" in warning
    result = try_apply(kubectl, bad)
    assert result.returncode == 0 and "Warning:" in result.stderr
    # The operator's own evaluation still reports the violation.
    wait_for(
        lambda: (
            (condition(kube.get(DATA_POLICY, namespace, "governance"), "PolicyCompliant") or {}).get("status")
            == "False"
        ),
        timeout=30,
        what="PolicyCompliant=False",
    )


def test_pipelines_from_before_the_policy_keep_metadata_updates(
    operator: Any, kube: KubeClient, namespace: str, kubectl: Kubectl
) -> None:
    """A pipeline that violates a policy created after it is still reported (PolicyCompliant=False),
    can still be annotated and deleted, but its spec and labels cannot change until it complies."""
    apply(kubectl, pipeline_doc(path="/elsewhere/x"))
    apply(kubectl, policy_doc())
    wait_ready(kube, namespace)
    changed = pipeline_doc(path="/elsewhere/y")
    wait_for(
        lambda: refused(kubectl, changed, "--dry-run=server"), timeout=30, what="the refusal of a change"
    )
    assert refused(kubectl, changed) is not None
    kubectl("annotate", "datapipeline", "orders", "example.com/note=kept")
    relabelled = kubectl("label", "datapipeline", "orders", "extra=yes", check=False)
    assert relabelled.returncode != 0 and "spec.sinks[0].path" in relabelled.stderr
    wait_for(
        lambda: (
            (condition(kube.get(DATA_POLICY, namespace, "governance"), "PolicyCompliant") or {}).get("status")
            == "False"
        ),
        timeout=30,
        what="PolicyCompliant=False",
    )
    assert refused(kubectl, pipeline_doc(path="/lake/sales/fixed")) is None
    kubectl("delete", "datapipeline", "orders", "--wait=true", "--timeout=60s")


# -- the reconcile itself, driven without the operator (d-* namespaces) ---------------------------


@pytest.fixture
def manual_kubectl(control_plane: ControlPlane, manual_namespace: str) -> Kubectl:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl("-n", manual_namespace, *args, input=input, check=check)

    return run


def test_reconcile_is_idempotent_and_cleans_up(
    kube: KubeClient, manual_namespace: str, manual_kubectl: Kubectl
) -> None:
    apply(manual_kubectl, policy_doc())
    body = kube.get(DATA_POLICY, manual_namespace, "governance")
    assert body is not None
    first = reconcile_policy(kube, body)
    assert first.children_written == 2 and first.status_written
    before = kube.write_count
    second = reconcile_policy(kube, kube.get(DATA_POLICY, manual_namespace, "governance") or {})
    assert kube.write_count == before, kube.requests
    assert second.children_written == 0 and not second.status_written

    # Deleting the policy: the finalizer holds it until the admission objects are gone.
    manual_kubectl("delete", "datapolicy", "governance", "--wait=false")
    body = kube.get(DATA_POLICY, manual_namespace, "governance")
    assert body is not None and body["metadata"].get("deletionTimestamp")
    reconcile_policy(kube, body)
    object_name = admission_name(manual_namespace, "governance")
    assert kube.get(VALIDATING_ADMISSION_POLICY, None, object_name) is None
    assert kube.get(VALIDATING_ADMISSION_POLICY_BINDING, None, object_name) is None
    wait_for(lambda: kube.get(DATA_POLICY, manual_namespace, "governance") is None, what="the policy to go")


def test_orphans_are_collected(kube: KubeClient, manual_namespace: str, manual_kubectl: Kubectl) -> None:
    apply(manual_kubectl, policy_doc("orphaned"), policy_doc("kept"))
    for name in ("orphaned", "kept"):
        reconcile_policy(kube, kube.get(DATA_POLICY, manual_namespace, name) or {})
    # The finalizer forced away: the policy goes, its admission objects stay behind.
    manual_kubectl(
        "patch", "datapolicy", "orphaned", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
    )
    manual_kubectl("delete", "datapolicy", "orphaned", "--wait=true", "--timeout=30s")
    orphan = admission_name(manual_namespace, "orphaned")
    assert kube.get(VALIDATING_ADMISSION_POLICY, None, orphan) is not None
    assert collect_orphans(kube, watches=lambda ns: ns != manual_namespace) == 0  # not ours
    assert collect_orphans(kube, watches=lambda ns: ns == manual_namespace) == 2
    assert kube.get(VALIDATING_ADMISSION_POLICY, None, orphan) is None
    assert kube.get(VALIDATING_ADMISSION_POLICY_BINDING, None, orphan) is None
    kept = admission_name(manual_namespace, "kept")
    assert kube.get(VALIDATING_ADMISSION_POLICY, None, kept) is not None
    assert kube.get(VALIDATING_ADMISSION_POLICY_BINDING, None, kept) is not None


def test_an_invalid_selector_is_reported_not_enforced_silently(
    kube: KubeClient, manual_namespace: str, manual_kubectl: Kubectl
) -> None:
    """The API server refuses a binding whose selector is not a valid label selector: the condition
    says so, with the API server's reason."""
    doc = policy_doc(pipelineSelector={"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]})
    apply(manual_kubectl, doc)
    reconcile_policy(kube, kube.get(DATA_POLICY, manual_namespace, "governance") or {})
    cond = condition(kube.get(DATA_POLICY, manual_namespace, "governance"), "AdmissionPolicyReady")
    assert cond is not None and cond["status"] == "False" and cond["reason"] == "ApplyFailed"
    assert "values" in cond["message"]


def _dry_run_refusal(manual_kubectl: Kubectl, doc: dict[str, Any]) -> str | None:
    return refused(manual_kubectl, doc, "--dry-run=server")


def _writes_everywhere(name: str, *, elsewhere: str | None) -> dict[str, Any]:
    """A Batch pipeline writing raw records, model versions, staged output and a JDBC sink; with
    ``elsewhere``, the first three go there."""
    doc = pipeline_doc(name)
    spec = doc["spec"]
    inside = "/lake/sales/{}".format
    spec["sources"].append(
        {
            "name": "events",
            "file": {
                "path": "/in/events.json",
                "format": "json",
                "onMalformed": "Quarantine",
                "quarantinePath": elsewhere or inside("quarantine"),
            },
        }
    )
    model = {
        "input": "raw",
        "path": elsewhere or inside("models/rec"),
        "als": {"userColumn": "u", "itemColumn": "i"},
    }
    spec["transforms"] = [{"name": "clean", "sql": "SELECT * FROM raw"}, {"name": "rec", "model": model}]
    spec["stagingPath"] = elsewhere or inside("staging")
    spec["sinks"].append(
        {
            "name": "db",
            "from": "raw",
            "format": "jdbc",
            "jdbc": {"url": "jdbc:postgresql://db/sales", "table": "t"},
        }
    )
    return doc


def _streaming(name: str, *, checkpoint: str) -> dict[str, Any]:
    doc = pipeline_doc(name)
    spec = doc["spec"]
    spec["mode"] = "Streaming"
    spec["sources"] = [{"name": "raw", "kafka": {"topic": "orders", "managed": False}}]
    sink = spec["sinks"][0]
    del sink["retentionDays"], sink["retentionColumn"]
    spec["streaming"] = {"checkpointLocation": checkpoint}
    return doc


def test_every_write_location_and_enforceable_retention_at_admission(
    kube: KubeClient, manual_namespace: str, manual_kubectl: Kubectl
) -> None:
    """allowedSinks covers quarantinePath, model paths, stagingPath and checkpointLocation too;
    retention.maxDays does not ask JDBC or streaming sinks for a retentionDays the CRD forbids them."""
    apply(manual_kubectl, policy_doc())
    reconcile_policy(kube, kube.get(DATA_POLICY, manual_namespace, "governance") or {})
    cond = condition(kube.get(DATA_POLICY, manual_namespace, "governance"), "AdmissionPolicyReady")
    assert cond is not None and cond["status"] == "True", cond  # the CEL type-checks against the CRD

    bad = _writes_everywhere("leaky", elsewhere="/lake/sales/../hr/x")
    message = wait_for(lambda: _dry_run_refusal(manual_kubectl, bad), timeout=30, what="the refusal")
    for field in (
        "spec.sources[1].file.quarantinePath '/lake/sales/../hr/x' (normalised '/lake/hr/x')",
        "spec.transforms[1].model.path '/lake/sales/../hr/x' (normalised '/lake/hr/x')",
        "spec.stagingPath '/lake/sales/../hr/x' (normalised '/lake/hr/x')",
    ):
        assert field in message, message
    assert "spec.sinks" not in message, message  # the Delta sink sets retentionDays; the JDBC one cannot

    # Everything inside the patterns, with a JDBC sink (no retentionDays allowed) under maxDays: admitted.
    assert _dry_run_refusal(manual_kubectl, _writes_everywhere("tidy", elsewhere=None)) is None
    # A Streaming pipeline's sinks cannot set retentionDays either; its checkpoint must be allowed.
    assert _dry_run_refusal(manual_kubectl, _streaming("stream", checkpoint="/lake/sales/_ckpt/s")) is None
    message = _dry_run_refusal(manual_kubectl, _streaming("stream", checkpoint="/tmp/ckpt"))
    assert message is not None
    assert "spec.streaming.checkpointLocation '/tmp/ckpt' matches no allowedSinks pattern" in message
    assert "retentionDays" not in message, message


def test_a_pipeline_at_the_size_limits_is_evaluated_within_the_cost_budget(
    kube: KubeClient, manual_namespace: str, manual_kubectl: Kubectl
) -> None:
    """32 quarantining sources, 64 model steps, 16 sinks and a staging path, every location with `..`
    and as deep as still resolved: the API server evaluates it (accepted: all resolve inside)."""
    apply(manual_kubectl, policy_doc())
    reconcile_policy(kube, kube.get(DATA_POLICY, manual_namespace, "governance") or {})
    deep = "/lake/sales/" + "/".join(["segment-" + "x" * 20] * (MAX_SEGMENTS - 4)) + "/.."
    assert len(deep.split("/")) == MAX_SEGMENTS and normalize_location(deep).text is not None
    doc = pipeline_doc("big")
    spec = doc["spec"]
    spec["sources"] += [
        {
            "name": f"s{i}",
            "file": {"path": "/in.csv", "format": "csv", "onMalformed": "Quarantine", "quarantinePath": deep},
        }
        for i in range(31)
    ]
    als = {"userColumn": "u", "itemColumn": "i"}
    spec["transforms"] = [
        {"name": f"m{i}", "model": {"input": "raw", "path": deep, "als": als}} for i in range(64)
    ]
    spec["stagingPath"] = deep
    spec["sinks"] = [{**spec["sinks"][0], "name": f"out{i}", "path": deep} for i in range(16)]
    bad = copy.deepcopy(doc)
    bad["spec"]["stagingPath"] = "/elsewhere"
    message = wait_for(lambda: _dry_run_refusal(manual_kubectl, bad), timeout=30, what="the refusal")
    assert "spec.stagingPath '/elsewhere' matches no allowedSinks pattern" in message, message
    assert _dry_run_refusal(manual_kubectl, doc) is None


# -- the chart's RBAC is enough -----------------------------------------------------------------


@pytest.fixture
def chart_identity(control_plane: ControlPlane, manual_namespace: str) -> Iterator[str]:
    """A ServiceAccount bound to the chart's ClusterRole (renamed for this test)."""
    rendered = subprocess.run(
        [
            str(bin_dir() / "helm"),
            "template",
            "dataops",
            str(ROOT / "charts" / "dataops-operator"),
            "--kube-version",
            "1.34.4",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    role = copy.deepcopy(next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "ClusterRole"))
    role_name = f"dataops-rbac-{manual_namespace}"
    role["metadata"] = {"name": role_name}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": role_name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": manual_namespace}],
    }
    control_plane.kubectl("-n", manual_namespace, "create", "serviceaccount", "operator")
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(role) + "\n---\n" + json.dumps(binding))
    yield f"system:serviceaccount:{manual_namespace}:operator"
    control_plane.kubectl("delete", "clusterrolebinding,clusterrole", role_name, check=False)


def test_the_chart_rbac_lets_the_operator_manage_admission_objects(
    control_plane: ControlPlane, manual_namespace: str, manual_kubectl: Kubectl, chart_identity: str
) -> None:
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config

    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(control_plane.kubeconfig), client_configuration=configuration)
    as_operator = KubeClient(
        k8s.ApiClient(configuration, header_name="Impersonate-User", header_value=chart_identity)
    )
    assert as_operator.get(DATA_POLICY, manual_namespace, "absent") is None  # impersonation works
    apply(manual_kubectl, policy_doc())
    reconcile_policy(as_operator, as_operator.get(DATA_POLICY, manual_namespace, "governance") or {})
    cond = condition(as_operator.get(DATA_POLICY, manual_namespace, "governance"), "AdmissionPolicyReady")
    assert cond is not None and cond["status"] == "True", cond
    manual_kubectl("delete", "datapolicy", "governance", "--wait=false")
    reconcile_policy(as_operator, as_operator.get(DATA_POLICY, manual_namespace, "governance") or {})
    assert (
        as_operator.get(VALIDATING_ADMISSION_POLICY, None, admission_name(manual_namespace, "governance"))
        is None
    )
    assert collect_orphans(as_operator, watches=lambda ns: True) >= 0
