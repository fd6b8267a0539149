"""The Helm chart renders and the API server accepts every object (server-side dry run)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane, bin_dir
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster


def test_chart_renders_and_validates_on_the_api_server(control_plane: ControlPlane, namespace: str) -> None:
    rendered = subprocess.run(
        [
            str(bin_dir() / "helm"),
            "template",
            "dataops",
            str(ROOT / "charts" / "dataops-operator"),
            "--namespace",
            namespace,
            "--kube-version",
            "1.34.4",
            "--include-crds",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("CustomResourceDefinition") == 3
    for kind in (
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
    ):
        assert kind in kinds
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATAOPS_LEADER_ELECTION"] == "true"
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in role["rules"])
    control_plane.kubectl("-n", namespace, "apply", "--dry-run=server", "-f", "-", input=rendered)


def test_chart_with_every_option_on_validates_on_the_api_server(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    """NetworkPolicy, PodDisruptionBudget, dashboard ConfigMap and the pod fields are accepted by the
    API server. The ServiceMonitor and PrometheusRule are left out: the Prometheus Operator's CRDs are
    not installed here (test_chart_values.py checks their rendering)."""
    chart = tmp_path / "dataops-operator"
    shutil.copytree(ROOT / "charts" / "dataops-operator", chart)
    dashboard = chart / "files" / "dashboard.json"
    if not dashboard.exists():
        dashboard.write_text(json.dumps({"title": "DataOps", "uid": "dataops", "panels": []}))
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "replicaCount": 3,
                "imagePullSecrets": [{"name": "regcred"}],
                "podAnnotations": {"example.com/team": "data"},
                "podLabels": {"team": "data"},
                "priorityClassName": "system-cluster-critical",
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
                ],
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "affinity": {
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {
                                "weight": 100,
                                "podAffinityTerm": {
                                    "topologyKey": "kubernetes.io/hostname",
                                    "labelSelector": {
                                        "matchLabels": {"app.kubernetes.io/name": "dataops-operator"}
                                    },
                                },
                            }
                        ]
                    }
                },
                "kafkaBootstrap": "kafka.kafka.svc:9092",
                "connectUrl": "http://connect.kafka.svc:8083",
                "apiServer": {"url": "https://10.0.0.1:6443"},
                "podDisruptionBudget": {"minAvailable": None, "maxUnavailable": "50%"},
                "serviceMonitor": {"enabled": True},
                "prometheusRule": {"enabled": True},
                "dashboard": {"enabled": True, "annotations": {"grafana_folder": "DataOps"}},
                "networkPolicy": {
                    "enabled": True,
                    "metricsFrom": {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                        "podSelector": {
                            "matchExpressions": [
                                {"key": "app.kubernetes.io/name", "operator": "In", "values": ["prometheus"]}
                            ]
                        },
                    },
                    "apiServer": {"cidrs": ["10.0.0.1/32"]},
                    "extraEgress": [
                        {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}], "ports": [{"port": 19092}]}
                    ],
                },
            }
        )
    )
    rendered = subprocess.run(
        [
            str(bin_dir() / "helm"),
            "template",
            "dataops",
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            "1.34.4",
            "--values",
            str(values),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(rendered) if d]
    monitoring = [d for d in docs if d["apiVersion"].startswith("monitoring.coreos.com/")]
    assert sorted(d["kind"] for d in monitoring) == ["PrometheusRule", "ServiceMonitor"]
    applicable = [d for d in docs if d not in monitoring]
    kinds = {d["kind"] for d in applicable}
    assert {"NetworkPolicy", "PodDisruptionBudget", "ConfigMap", "Service", "Deployment"} <= kinds
    result = control_plane.kubectl(
        "-n",
        namespace,
        "apply",
        "--dry-run=server",
        "-o",
        "json",
        "-f",
        "-",
        input="\n---\n".join(json.dumps(d) for d in applicable),
    )
    accepted = json.loads(result.stdout)
    items = accepted["items"] if accepted.get("kind") == "List" else [accepted]
    assert sorted(i["kind"] for i in items) == sorted(d["kind"] for d in applicable)
    # What the API server kept (defaulted, not pruned): the policy and the budget as rendered.
    policy = next(i for i in items if i["kind"] == "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    pdb = next(i for i in items if i["kind"] == "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == "50%" and "minAvailable" not in pdb["spec"]
