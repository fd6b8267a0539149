"""Every pod the operator creates, and the operator's own Deployment, meet the restricted Pod Security
Standard (namespaces labelled pod-security.kubernetes.io/enforce=restricted admit them)."""

from __future__ import annotations

import copy
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import ActiveValidation, DataQualitySuiteSpec
from dataops.devcluster.controlplane import bin_dir
from dataops.plan.children import Owner, build_plan_config_map
from dataops.plan.runplan import build_run_plan
from dataops.plan.spark_driver import Launch, build_native_run, build_spark_application
from dataops.plan.validation import build_validator_pod
from tests.conftest import ROOT
from tests.unit.podsecurity import restricted_violations

OWNER = Owner(kind="DataPipeline", name="orders-daily", namespace="sales", uid="uid-1")
LAUNCH = Launch(owner=OWNER, run_id="s1", attempt=1, image="img:1", api_server_url="https://10.245.0.1:6443")


def _pipeline_spec(example_pipeline: dict[str, Any]) -> DataPipelineSpec:
    example_pipeline["spec"]["spark"] = {
        "nodeSelector": {"dataops.dev/node": "real"},
        "tolerations": [{"key": "dataops.dev/real-node", "operator": "Exists", "effect": "NoSchedule"}],
        "podAnnotations": {"team": "sales"},
    }
    return DataPipelineSpec.model_validate(example_pipeline["spec"])


def _restricted_pod() -> dict[str, Any]:
    """A driver pod of a minimal pipeline: the baseline each negative case breaks one rule of."""
    spec = DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "a", "file": {"path": "/tmp/a.csv", "format": "csv"}}],
            "sinks": [{"name": "b", "from": "a", "path": "/tmp/b"}],
        }
    )
    return build_native_run(LAUNCH, spec)[0]


def test_driver_pod_is_restricted(example_pipeline: dict[str, Any]) -> None:
    (pod,) = build_native_run(LAUNCH, _pipeline_spec(example_pipeline))
    assert restricted_violations(pod) == []
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 185,
        "runAsGroup": 185,
        "fsGroup": 185,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_executor_pod_template_is_restricted(example_pipeline: dict[str, Any]) -> None:
    spec = _pipeline_spec(example_pipeline)
    plan = build_run_plan(name=OWNER.name, namespace=OWNER.namespace, spec=spec)
    plan_map = build_plan_config_map(owner=OWNER, plan=plan, spark=spec.spark)
    template = yaml.safe_load(plan_map["data"]["executor-pod-template.yaml"])
    assert restricted_violations(template) == []
    # What Spark adds to the template (its local-dir emptyDir, the executor ConfigMap, env) keeps
    # the pod restricted: Spark merges into the template's container, it never replaces it.
    merged = copy.deepcopy(template)
    merged["spec"]["volumes"] += [
        {"name": "spark-local-dir-1", "emptyDir": {}},
        {"name": "spark-conf-volume-exec", "configMap": {"name": "spark-exec-1-conf-map"}},
    ]
    merged["spec"]["containers"][0]["image"] = "img:1"
    assert restricted_violations(merged) == []


def test_validation_pod_is_restricted() -> None:
    spec = DataQualitySuiteSpec.model_validate(
        {
            "dataset": {"path": "/data/orders"},
            "expectations": [{"type": "expect_column_values_to_not_be_null", "column": "id"}],
            "validator": {"podAnnotations": {"a": "b"}, "serviceAccountName": "reader"},
        }
    )
    active = ActiveValidation(
        run_id="v1", pod="q-v1-validator", trigger="Manual", start_time=datetime(2026, 11, 25, tzinfo=UTC)
    )
    owner = Owner(kind="DataQualitySuite", name="q", namespace="sales", uid="u")
    pod = build_validator_pod(owner, active, spec, image="img", lineage_transport="none")
    assert restricted_violations(pod) == []


def test_spark_application_pods_are_restricted(example_pipeline: dict[str, Any]) -> None:
    app = build_spark_application(LAUNCH, _pipeline_spec(example_pipeline))["spec"]
    for role in ("driver", "executor"):
        pod = {
            "spec": {
                "securityContext": app[role]["podSecurityContext"],
                "containers": [{"name": role, "securityContext": app[role]["securityContext"]}],
                "volumes": app["volumes"],
            }
        }
        assert restricted_violations(pod) == [], role


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (lambda p: p["spec"]["securityContext"].pop("seccompProfile"), "seccompProfile"),
        (lambda p: p["spec"]["securityContext"].update(runAsUser=0), "runAsUser"),
        (lambda p: p["spec"]["securityContext"].update(runAsNonRoot=False), "runAsNonRoot"),
        (
            lambda p: p["spec"]["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
            "allowPriv",
        ),
        (lambda p: p["spec"]["containers"][0]["securityContext"].pop("capabilities"), "capabilities"),
        (
            lambda p: p["spec"]["containers"][0]["securityContext"].update(
                capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}
            ),
            "capabilities",
        ),
        (lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
        (lambda p: p["spec"].update(hostNetwork=True), "hostNetwork"),
        (
            lambda p: p["spec"]["containers"][0]["ports"].append({"containerPort": 1, "hostPort": 1}),
            "hostPorts",
        ),
        (lambda p: p["spec"]["containers"][0]["securityContext"].update(privileged=True), "privileged"),
    ],
)
def test_the_checker_finds_what_the_restricted_level_forbids(change: Any, rule: str) -> None:
    pod = _restricted_pod()
    assert restricted_violations(pod) == []
    change(pod)
    violations = restricted_violations(pod)
    assert violations and any(rule.lower() in v.lower() for v in violations), violations


def test_chart_deployment_is_restricted() -> None:
    helm = bin_dir() / "helm"
    if not helm.exists():
        pytest.skip(f"{helm} is not installed (hack/install-binaries.sh)")
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "dataops",
            str(ROOT / "charts" / "dataops-operator"),
            "--namespace",
            "x",
            "--kube-version",
            "1.34.4",
            "--set",
            "apiServer.url=https://10.245.0.1:6443",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    deployment = next(d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment")
    assert restricted_violations(deployment["spec"]["template"]) == []
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DATAOPS_API_SERVER_URL"] == "https://10.245.0.1:6443"
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("10.245.0.1", "6443")
