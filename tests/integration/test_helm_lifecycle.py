"""The chart's life cycle through Helm itself on a real API server: install (CRDs from the chart's
crds/, KWOK plays the operator's pods Running and Ready, so `--wait` waits for a rolled-out
Deployment), upgrade with changed values (replicas, resources, NetworkPolicy on, the
PodDisruptionBudget that follows replicaCount), and uninstall (every object gone, the CRDs kept).

The module starts its own control plane: the chart's cluster-scoped objects (ClusterRole, the
admission policies) have fixed names that other modules apply by hand, and uninstall must be able
to prove that nothing of the release is left anywhere in the cluster."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane, bin_dir
from tests.conftest import ROOT
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.cluster

CHART = ROOT / "charts" / "dataops-operator"
RELEASE = "dataops"
NAMESPACE = "dataops-system"
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"
NAMESPACED_KINDS = (
    "deployments,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,networkpolicies"
)
CLUSTER_KINDS = (
    "clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)
CRDS = {"datapipelines.dataops.dev", "dataqualitysuites.dataops.dev", "datapolicies.dataops.dev"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("helm-controlplane"))
    cp.start()
    yield cp
    cp.stop()


def helm(cp: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [
            str(bin_dir() / "helm"),
            f"--kubeconfig={cp.kubeconfig}",
            "--kube-context=dataops-dev",
            "--namespace",
            NAMESPACE,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def objects(cp: ControlPlane, kinds: str, *scope: str) -> list[dict[str, Any]]:
    out = cp.kubectl("get", kinds, *scope, "-l", INSTANCE, "-o", "json").stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def by_kind(items: list[dict[str, Any]]) -> dict[str, list[str]]:
    kinds: dict[str, list[str]] = {}
    for item in items:
        kinds.setdefault(item["kind"], []).append(item["metadata"]["name"])
    return kinds


def deployment(cp: ControlPlane) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        cp.kubectl("-n", NAMESPACE, "get", "deployment", "dataops-operator", "-o", "json").stdout
    )
    return body


def rolled_out(cp: ControlPlane, replicas: int) -> bool:
    status = deployment(cp).get("status") or {}
    return (
        status.get("readyReplicas") == replicas
        and status.get("updatedReplicas") == replicas
        and status.get("replicas") == replicas
    )


def operator_pods(cp: ControlPlane) -> list[dict[str, Any]]:
    out = cp.kubectl(
        "-n", NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/name=dataops-operator", "-o", "json"
    ).stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def metrics_slices(cp: ControlPlane) -> list[dict[str, Any]]:
    out = cp.kubectl(
        "-n",
        NAMESPACE,
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=dataops-operator-metrics",
        "-o",
        "json",
    ).stdout
    items: list[dict[str, Any]] = json.loads(out)["items"]
    return items


def slice_addresses(cp: ControlPlane) -> set[str]:
    return {a for s in metrics_slices(cp) for e in s.get("endpoints") or [] for a in e["addresses"]}


def test_install_upgrade_uninstall(cluster: ControlPlane, tmp_path: Path) -> None:
    cp = cluster
    # -- install: defaults (two replicas, leader election, admission policies) ------------------
    helm(cp, "install", RELEASE, str(CHART), "--create-namespace", "--wait", "--timeout", "90s")
    assert rolled_out(cp, 2), deployment(cp).get("status")
    crds = {c["metadata"]["name"] for c in json.loads(cp.kubectl("get", "crd", "-o", "json").stdout)["items"]}
    assert crds >= CRDS, crds
    installed = by_kind(objects(cp, NAMESPACED_KINDS, "-n", NAMESPACE))
    assert installed["Deployment"] == ["dataops-operator"]
    assert installed["Service"] == ["dataops-operator-metrics"]
    assert installed["PodDisruptionBudget"] == ["dataops-operator"]  # replicaCount 2
    assert "NetworkPolicy" not in installed
    cluster_scoped = by_kind(objects(cp, CLUSTER_KINDS))
    assert cluster_scoped["ClusterRole"] == ["dataops-operator"]
    assert len(cluster_scoped["ValidatingAdmissionPolicy"]) == 2
    # The metrics Service selects exactly the operator's pods, on both named ports. The EndpointSlice
    # controller adds a pod some time after it is Ready, which is what `helm --wait` waited for.
    pod_ips = {p["status"]["podIP"] for p in operator_pods(cp)}
    assert len(pod_ips) == 2, pod_ips
    wait_for(
        lambda: slice_addresses(cp) == pod_ips,
        timeout=30,
        what=f"the metrics Service's EndpointSlices to hold the operator's pods {sorted(pod_ips)}",
    )
    assert {p["name"] for s in metrics_slices(cp) for p in s.get("ports") or []} == {"metrics", "health"}
    pdb = json.loads(cp.kubectl("-n", NAMESPACE, "get", "pdb", "dataops-operator", "-o", "json").stdout)
    wait_for(
        lambda: (
            (
                json.loads(
                    cp.kubectl("-n", NAMESPACE, "get", "pdb", "dataops-operator", "-o", "json").stdout
                ).get("status")
                or {}
            ).get("expectedPods")
            == 2
        ),
        timeout=30,
        what="the PodDisruptionBudget to count both replicas",
    )
    assert pdb["spec"]["minAvailable"] == 1

    # -- upgrade: one replica, more memory, a NetworkPolicy; the PDB follows replicaCount away ---
    values = tmp_path / "upgrade.json"
    values.write_text(
        json.dumps(
            {
                "replicaCount": 1,
                "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "768Mi"}},
                "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["127.0.0.1/32"]}},
                "podAnnotations": {"example.com/revision": "2"},
                "kafkaBootstrap": "kafka.kafka.svc:9092",
            }
        )
    )
    helm(cp, "upgrade", RELEASE, str(CHART), "--values", str(values), "--wait", "--timeout", "90s")
    wait_for(lambda: rolled_out(cp, 1), timeout=60, what="the Deployment to scale to one replica")
    pod_spec = deployment(cp)["spec"]["template"]
    container = pod_spec["spec"]["containers"][0]
    assert container["resources"]["limits"]["memory"] == "768Mi"
    assert pod_spec["metadata"]["annotations"]["example.com/revision"] == "2"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DATAOPS_KAFKA_BOOTSTRAP"] == "kafka.kafka.svc:9092"
    wait_for(
        lambda: (
            all(
                p["spec"]["containers"][0]["resources"]["limits"]["memory"] == "768Mi"
                for p in operator_pods(cp)
            )
            and len(operator_pods(cp)) == 1
        ),
        timeout=60,
        what="the rolled pods to carry the new limits",
    )
    upgraded = by_kind(objects(cp, NAMESPACED_KINDS, "-n", NAMESPACE))
    assert "PodDisruptionBudget" not in upgraded  # auto: only with more than one replica
    assert upgraded["NetworkPolicy"] == ["dataops-operator"]
    policy = json.loads(
        cp.kubectl("-n", NAMESPACE, "get", "networkpolicy", "dataops-operator", "-o", "json").stdout
    )
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports") or []}
    assert egress_ports == {443, 6443, 53, 9092}
    assert policy["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "127.0.0.1/32"}}]
    history = json.loads(helm(cp, "history", RELEASE, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2] and history[-1]["status"] == "deployed"

    # -- a bad upgrade is refused before anything changes ------------------------------------------
    refused = helm(
        cp, "upgrade", RELEASE, str(CHART), "--reuse-values", "--set", "replicaCount=two", check=False
    )
    assert refused.returncode != 0 and "/replicaCount" in refused.stderr, refused.stderr
    assert deployment(cp)["spec"]["replicas"] == 1

    # -- uninstall: nothing of the release stays, the CRDs do (Helm never deletes crds/) ---------
    helm(cp, "uninstall", RELEASE, "--wait", "--timeout", "60s")
    assert objects(cp, NAMESPACED_KINDS, "-n", NAMESPACE) == []
    assert objects(cp, CLUSTER_KINDS) == []
    wait_for(lambda: operator_pods(cp) == [], timeout=60, what="the operator's pods to be collected")
    crds_after = {
        c["metadata"]["name"] for c in json.loads(cp.kubectl("get", "crd", "-o", "json").stdout)["items"]
    }
    assert crds_after >= CRDS
    assert helm(cp, "status", RELEASE, check=False).returncode != 0
