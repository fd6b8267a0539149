"""The chart's RBAC is what the operator needs and no more: rendered with helm, applied to the real API
server, checked with `kubectl auth can-i --as=<the chart's ServiceAccount>`, and then the operator's
reconciles run with that ServiceAccount's own token (`kubectl create token`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import (
    DATA_PIPELINE,
    DATA_POLICY,
    DATA_QUALITY_SUITE,
    POD,
    ROLE,
    SECRET,
    KubeClient,
    KubeError,
)
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from dataops.reconcile.policy import reconcile_policy
from dataops.reconcile.suite import reconcile_suite
from tests.integration.conftest import RUNTIME_IMAGE, condition
from tests.integration.test_deputy_admission import render

pytestmark = pytest.mark.cluster

SA_NAME = "dataops-operator"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def _namespace(cp: ControlPlane, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    cp.kubectl("create", "namespace", name)
    return name


@pytest.fixture
def namespaces(control_plane: ControlPlane) -> Iterator[dict[str, str]]:
    names = {role: _namespace(control_plane, f"r{role[0]}") for role in ("ops", "watched", "other")}
    yield names
    for name in names.values():
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def install_rbac(cp: ControlPlane, *values: str, namespace: str) -> list[dict[str, Any]]:
    docs = [d for d in render(*values, namespace=namespace) if d["kind"] in RBAC_KINDS]
    cp.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        "-",
        input="\n---\n".join(json.dumps(d) for d in docs),
    )
    return docs


def can(cp: ControlPlane, sa: str, verb: str, resource: str, *scope: str) -> bool:
    result = cp.kubectl("auth", "can-i", verb, resource, *scope, f"--as={sa}", check=False)
    assert result.stdout.strip() in ("yes", "no"), result.stderr
    return result.stdout.strip() == "yes"


def token_client(cp: ControlPlane, namespace: str, tmp_path: Path) -> KubeClient:
    """A client that authenticates as the chart's ServiceAccount with a token the API server issued."""
    token = cp.kubectl("-n", namespace, "create", "token", SA_NAME, "--duration=10m").stdout.strip()
    config = yaml.safe_load(cp.kubeconfig.read_text())
    user = config["contexts"][0]["context"]["user"]
    config["users"] = [{"name": user, "user": {"token": token}}]
    path = tmp_path / "sa-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return KubeClient.from_kubeconfig(str(path))


def test_namespaced_rbac_is_least_privilege_and_suffices(
    control_plane: ControlPlane, namespaces: dict[str, str], tmp_path: Path
) -> None:
    cp = control_plane
    ops, watched, other = namespaces["ops"], namespaces["watched"], namespaces["other"]
    docs = install_rbac(cp, "--set", f"watchNamespaces={{{watched}}}", namespace=ops)
    cluster_role = next(d for d in docs if d["kind"] == "ClusterRole")
    # Only cluster-scoped needs: kopf's namespaces and CRDs, and the admission policies DataPolicies
    # compile into (ValidatingAdmissionPolicy and its binding are cluster scoped).
    assert {r for rule in cluster_role["rules"] for r in rule["resources"]} == {
        "namespaces",
        "customresourcedefinitions",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
    }
    sa = f"system:serviceaccount:{ops}:{SA_NAME}"
    matrix = [
        ("get", "secrets", ("-n", watched), True),
        ("list", "secrets", ("-n", watched), False),
        ("watch", "secrets", ("-n", watched), False),
        ("get", "secrets", ("-n", other), False),
        ("get", "secrets", ("-A",), False),
        ("create", "secrets", ("-n", watched), False),
        ("create", "pods", ("-n", watched), True),
        ("create", "pods", ("-n", other), False),
        ("list", "pods", ("-A",), False),
        ("list", "datapipelines.dataops.dev", ("-n", watched), True),
        ("list", "datapipelines.dataops.dev", ("-A",), False),
        ("delete", "datapipelines.dataops.dev", ("-n", watched), False),
        ("create", "datapipelines.dataops.dev", ("-n", watched), False),
        ("patch", "datapipelines.dataops.dev", ("-n", watched, "--subresource=status"), True),
        ("create", "roles", ("-n", watched), True),
        ("create", "roles", ("-n", other), False),
        ("escalate", "roles", ("-n", watched), False),
        ("bind", "roles", ("-n", watched), False),
        ("bind", "clusterroles", ("-n", watched), False),
        ("create", "clusterroles", (), False),
        ("create", "clusterrolebindings", (), False),
        ("list", "events", ("-n", watched), True),
        ("create", "events", ("-n", other), False),
        ("list", "namespaces", (), True),
        ("create", "namespaces", (), False),
        ("list", "customresourcedefinitions.apiextensions.k8s.io", (), True),
        ("create", "customresourcedefinitions.apiextensions.k8s.io", (), False),
        ("update", "leases.coordination.k8s.io", ("-n", ops), True),
        ("update", "leases.coordination.k8s.io", ("-n", watched), False),
        ("create", "serviceaccounts", ("-n", watched, "--subresource=token"), False),
        ("impersonate", "users", (), False),
        ("create", "nodes", (), False),
    ]
    got = [(verb, res, scope, can(cp, sa, verb, res, *scope)) for verb, res, scope, _ in matrix]
    assert got == matrix

    # The operator's own reconciles, as that ServiceAccount: children (the runner Role is granted by
    # a ServiceAccount without bind/escalate, so RBAC checks it holds every verb), a driver pod, a
    # validation pod, and a DataPolicy's access Roles.
    client = token_client(cp, ops, tmp_path)
    admin = KubeClient.from_kubeconfig(str(cp.kubeconfig))
    run_now = {"dataops.dev/run-now": "1"}
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "checks", "namespace": watched, "annotations": run_now},
        "spec": {
            "dataset": {"path": "/data/orders"},
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
        },
    }
    pipeline = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {
            "name": "orders",
            "namespace": watched,
            "labels": {"team": "sales"},
            "annotations": run_now,
        },
        "spec": {
            "sources": [
                {
                    "name": "db",
                    "jdbc": {
                        "url": "jdbc:postgresql://db/x",
                        "table": "t",
                        "credentials": {"passwordSecretRef": {"name": "db", "key": "password"}},
                    },
                }
            ],
            "qualityGates": [{"suiteRef": {"name": "checks"}, "action": "warn"}],
            "sinks": [{"name": "out", "from": "db", "path": "/data/out"}],
        },
    }
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "sales", "namespace": watched},
        "spec": {
            "pipelineSelector": {"matchLabels": {"team": "sales"}},
            "enforcement": "Audit",
            "access": {
                "readers": [{"kind": "User", "name": "alice"}],
                "writers": [{"kind": "Group", "name": "ops"}],
            },
        },
    }
    for doc in (suite, pipeline, policy):
        cp.kubectl("-n", watched, "apply", "-f", "-", input=json.dumps(doc))
    config = RunConfig(image=RUNTIME_IMAGE)

    def body(rt: Any, name: str) -> dict[str, Any]:
        found = client.get(rt, watched, name)
        assert found is not None
        return found

    first = reconcile_pipeline(client, body(DATA_PIPELINE, "orders"), config=config)
    assert first.children_written >= 4 and len(first.launched) == 1, first
    assert admin.get(POD, watched, first.launched[0]) is not None
    assert admin.get(ROLE, watched, "orders-runner") is not None
    again = reconcile_pipeline(client, body(DATA_PIPELINE, "orders"), config=config)
    assert again.launched == []
    validation = reconcile_suite(client, body(DATA_QUALITY_SUITE, "checks"), config=config)
    assert len(validation.launched) == 1, validation
    reconcile_policy(client, body(DATA_POLICY, "sales"))
    readers = admin.get(ROLE, watched, "sales-readers")
    assert readers is not None and readers["rules"][0]["resourceNames"] == ["orders"]
    assert can(cp, "alice", "get", "datapipelines.dataops.dev/orders", "-n", watched)

    # What it does not hold it cannot grant (no escalate): a Role with Secrets list is refused.
    with pytest.raises(KubeError) as refused:
        client.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "sneaky", "namespace": watched},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
            }
        )
    assert refused.value.status == 403 and "permissions not currently held" in refused.value.message
    with pytest.raises(KubeError) as outside:
        client.get(SECRET, other, "anything")
    assert outside.value.status == 403
    with pytest.raises(KubeError) as listing:
        client.list(SECRET, watched)
    assert listing.value.status == 403


def test_cluster_wide_rbac_reads_secrets_only_in_secret_namespaces(
    control_plane: ControlPlane, namespaces: dict[str, str], tmp_path: Path
) -> None:
    cp = control_plane
    ops, watched, other = namespaces["ops"], namespaces["watched"], namespaces["other"]
    docs = install_rbac(cp, "--set", f"secretNamespaces={{{watched}}}", namespace=ops)
    for doc in docs:
        if doc["kind"] == "ClusterRole":
            assert all("secrets" not in rule["resources"] for rule in doc["rules"])
            assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in doc["rules"])
    sa = f"system:serviceaccount:{ops}:{SA_NAME}"
    matrix = [
        ("get", "secrets", ("-n", watched), True),
        ("list", "secrets", ("-n", watched), False),
        ("get", "secrets", ("-n", other), False),
        ("get", "secrets", ("-A",), False),
        ("create", "pods", ("-n", other), True),
        ("create", "pods", ("-n", other, "--subresource=exec"), False),
        ("list", "datapipelines.dataops.dev", ("-A",), True),
        ("escalate", "roles", ("-n", other), False),
        ("bind", "roles", ("-n", other), False),
        ("create", "clusterroles", (), False),
    ]
    got = [(verb, res, scope, can(cp, sa, verb, res, *scope)) for verb, res, scope, _ in matrix]
    assert got == matrix

    # A connector whose Secret lies outside secretNamespaces: the reconcile (with the ServiceAccount's
    # token) reports the refusal in SourcesReady instead of failing, and sends nothing anywhere.
    cp.kubectl("-n", other, "create", "secret", "generic", "db", "--from-literal=password=x")
    pipeline = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "cdc", "namespace": other},
        "spec": {
            "sources": [
                {"name": "orders", "file": {"path": "/d"}},
                {
                    "name": "pg",
                    "connector": {
                        "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
                        "configFromSecrets": [
                            {
                                "configKey": "database.password",
                                "secretKeyRef": {"name": "db", "key": "password"},
                            }
                        ],
                    },
                },
            ],
            "sinks": [{"name": "out", "from": "orders", "path": "/o"}],
        },
    }
    cp.kubectl("-n", other, "apply", "-f", "-", input=json.dumps(pipeline))
    client = token_client(cp, ops, tmp_path)
    body = client.get(DATA_PIPELINE, other, "cdc")
    assert body is not None
    reconcile_pipeline(client, body, config=RunConfig(image=RUNTIME_IMAGE, connect_url="http://127.0.0.1:9"))
    sources = condition(client.get(DATA_PIPELINE, other, "cdc"), "SourcesReady")
    assert sources is not None and sources["status"] == "False"
    assert "Secret db cannot be read by the operator" in sources["message"] and "403" in sources["message"]


def test_default_chart_grants_no_secrets_anywhere() -> None:
    docs = render()
    rules = [r for d in docs if d["kind"] in ("ClusterRole", "Role") for r in d["rules"]]
    assert rules and all("secrets" not in r["resources"] for r in rules)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATAOPS_ALLOWED_IMAGES"] == "" and env["DATAOPS_NAMESPACE"] == ""
    listed = render("--set", "watchNamespaces={a,b}", "--set", "allowed.images={x/*,y/**}")
    deployment = next(d for d in listed if d["kind"] == "Deployment")
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATAOPS_NAMESPACE"] == "a,b" and env["DATAOPS_ALLOWED_IMAGES"] == "x/*,y/**"
    assert sorted(
        d["metadata"]["namespace"] for d in listed if d["kind"] == "Role" and d["metadata"]["name"] == SA_NAME
    ) == ["a", "b"]


def test_glob_in_watch_namespaces_is_refused() -> None:
    import subprocess

    with pytest.raises(subprocess.CalledProcessError) as failed:
        render("--set", "watchNamespaces={team-*}")
    assert "watchNamespaces must be exact namespace names" in failed.value.stderr
