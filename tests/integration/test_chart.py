"""The Helm chart renders and the API server accepts every object (server-side dry run)."""

from __future__ import annotations

import subprocess

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
