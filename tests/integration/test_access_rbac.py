"""DataPolicy.spec.access becomes real RBAC: the running operator compiles it into Roles and
RoleBindings, and the API server's authorizer (`kubectl auth can-i --as`) answers accordingly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import ROLE, ROLE_BINDING, KubeClient
from tests.integration.conftest import Operator, wait_for

pytestmark = pytest.mark.cluster


def _pipeline(name: str, labels: dict[str, str], suite: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "sources": [{"name": "orders", "file": {"path": "/data/orders"}}],
        "sinks": [{"name": "out", "from": "orders", "path": "/data/out"}],
    }
    if suite:
        spec["qualityGates"] = [{"suiteRef": {"name": suite}, "action": "warn"}]
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }


def _suite(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": name},
        "spec": {"expectations": [{"type": "expect_column_to_exist", "column": "id"}]},
    }


def _policy(access: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"pipelineSelector": {"matchLabels": {"team": "sales"}}, "enforcement": "Audit"}
    if access is not None:
        spec["access"] = access
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "sales"},
        "spec": spec,
    }


def can(cp: ControlPlane, ns: str, verb: str, resource: str, *who: str) -> bool:
    """`kubectl auth can-i` as a user (``alice``), with groups (``--as-group=x``) or a ServiceAccount."""
    as_args = [f"--as={who[0]}", *who[1:]]
    result = cp.kubectl("auth", "can-i", verb, resource, "-n", ns, *as_args, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


def _apply(cp: ControlPlane, ns: str, *docs: dict[str, Any]) -> None:
    cp.kubectl("-n", ns, "apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))


def _resource_names(kube: KubeClient, ns: str, role: str) -> list[str] | None:
    body = kube.get(ROLE, ns, role)
    if body is None:
        return None
    rule = next((r for r in body.get("rules") or [] if "datapipelines" in r["resources"]), None)
    return rule["resourceNames"] if rule else []


def test_access_grants_exactly_the_selected_pipelines(
    control_plane: ControlPlane, operator: Operator, kube: KubeClient, namespace: str
) -> None:
    cp, ns = control_plane, namespace
    other = f"{ns}-ci"
    cp.kubectl("create", "namespace", other)
    try:
        _apply(
            cp,
            ns,
            _suite("orders-checks"),
            _suite("unrelated-checks"),
            _pipeline("orders", {"team": "sales"}, suite="orders-checks"),
            _pipeline("payroll", {"team": "hr"}, suite="unrelated-checks"),
            _policy(
                {
                    "readers": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "analysts"}],
                    "writers": [
                        {"kind": "User", "name": "wendy"},
                        {"kind": "ServiceAccount", "name": "deployer", "namespace": other},
                        {"kind": "ServiceAccount", "name": "local-bot"},
                    ],
                }
            ),
        )
        wait_for(lambda: _resource_names(kube, ns, "sales-writers") == ["orders"], what="writers Role")
        wait_for(lambda: _resource_names(kube, ns, "sales-readers") == ["orders"], what="readers Role")
        deployer = f"system:serviceaccount:{other}:deployer"
        local_bot = f"system:serviceaccount:{ns}:local-bot"
        matrix: list[tuple[str, str, tuple[str, ...], bool]] = [
            ("get", "datapipelines/orders", ("alice",), True),
            ("watch", "datapipelines/orders", ("alice",), True),
            ("get", "datapipelines/payroll", ("alice",), False),
            ("patch", "datapipelines/orders", ("alice",), False),
            ("delete", "datapipelines/orders", ("alice",), False),
            ("create", "datapipelines", ("alice",), False),
            ("get", "dataqualitysuites/orders-checks", ("alice",), True),
            ("get", "dataqualitysuites/unrelated-checks", ("alice",), False),
            ("patch", "dataqualitysuites/orders-checks", ("wendy",), False),
            ("list", "events", ("alice",), True),
            ("get", "secrets", ("alice",), False),
            ("get", "datapolicies/sales", ("alice",), False),
            ("get", "datapipelines/orders", ("bob", "--as-group=analysts"), True),
            ("get", "datapipelines/orders", ("bob",), False),
            ("patch", "datapipelines/orders", ("wendy",), True),
            ("patch", "datapipelines/payroll", ("wendy",), False),
            ("update", "datapipelines/orders", ("wendy",), False),
            ("patch", "datapipelines/orders", (deployer,), True),
            ("patch", "datapipelines/orders", (local_bot,), True),
            ("patch", "datapipelines/orders", (f"system:serviceaccount:{ns}:deployer",), False),
            ("patch", "datapipelines/orders", ("wendy", "--subresource=status"), False),
        ]
        got = [(verb, res, who, can(cp, ns, verb, res, *who)) for verb, res, who, _ in matrix]
        assert got == matrix
        # The grant is real for kubectl too: get works by name, the other pipeline is forbidden.
        assert cp.kubectl("-n", ns, "get", "dp", "orders", "--as=alice", check=False).returncode == 0
        denied = cp.kubectl("-n", ns, "get", "dp", "payroll", "--as=alice", check=False)
        assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()
        patched = cp.kubectl(
            "-n", ns, "annotate", "dp", "orders", "dataops.dev/paused=true", "--as=wendy", check=False
        )
        assert patched.returncode == 0, patched.stderr
        for kind in (ROLE, ROLE_BINDING):
            meta = (kube.get(kind, ns, "sales-readers") or {})["metadata"]
            (ref,) = meta["ownerReferences"]
            assert ref["kind"] == "DataPolicy" and ref["name"] == "sales" and ref["controller"] is True

        # Labels change: payroll joins the selection, orders leaves it; the Roles follow.
        cp.kubectl("-n", ns, "label", "dp", "payroll", "team=sales", "--overwrite")
        wait_for(
            lambda: _resource_names(kube, ns, "sales-readers") == ["orders", "payroll"], what="payroll joins"
        )
        cp.kubectl("-n", ns, "label", "dp", "orders", "team=ops", "--overwrite")
        wait_for(lambda: _resource_names(kube, ns, "sales-readers") == ["payroll"], what="orders leaves")
        assert can(cp, ns, "get", "datapipelines/payroll", "alice")
        assert can(cp, ns, "get", "dataqualitysuites/unrelated-checks", "alice")
        assert not can(cp, ns, "get", "datapipelines/orders", "alice")
        assert not can(cp, ns, "get", "dataqualitysuites/orders-checks", "alice")

        # No pipeline selected: no pipeline rule at all (an empty resourceNames would grant all).
        cp.kubectl("-n", ns, "label", "dp", "payroll", "team=hr", "--overwrite")
        wait_for(lambda: _resource_names(kube, ns, "sales-readers") == [], what="empty selection")
        assert not can(cp, ns, "get", "datapipelines/payroll", "alice")
        assert not can(cp, ns, "list", "datapipelines", "alice")

        # Someone edits the Role by hand: the operator puts it back.
        cp.kubectl("-n", ns, "label", "dp", "orders", "team=sales", "--overwrite")
        wait_for(lambda: _resource_names(kube, ns, "sales-readers") == ["orders"], what="orders back")
        cp.kubectl(
            "-n",
            ns,
            "patch",
            "role",
            "sales-readers",
            "--type=json",
            "-p",
            '[{"op":"replace","path":"/rules/0/resourceNames","value":["orders","payroll"]}]',
        )
        wait_for(lambda: _resource_names(kube, ns, "sales-readers") == ["orders"], what="tamper undone")

        # Writers removed, then access removed: their Roles and RoleBindings go.
        _apply(cp, ns, _policy({"readers": [{"kind": "User", "name": "alice"}]}))
        wait_for(lambda: kube.get(ROLE, ns, "sales-writers") is None, what="writers Role removed")
        assert kube.get(ROLE_BINDING, ns, "sales-writers") is None
        assert not can(cp, ns, "patch", "datapipelines/orders", "wendy")
        assert can(cp, ns, "get", "datapipelines/orders", "alice")
        _apply(cp, ns, _policy(None))
        wait_for(
            lambda: (
                kube.get(ROLE, ns, "sales-readers") is None
                and kube.get(ROLE_BINDING, ns, "sales-readers") is None
            ),
            what="access removed",
        )
        assert not can(cp, ns, "get", "datapipelines/orders", "alice")
    finally:
        cp.kubectl("delete", "namespace", other, "--wait=false", check=False)
