"""End-to-end fixtures on a real node: the control plane plus a kubelet with containerd running the
images built from runtime-images/, the operator installed with its Helm chart, a Kafka broker that
pods reach. Started once per session, only when an e2e test runs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane, bin_dir
from dataops.devcluster.images import BuiltImage, build_images
from dataops.devcluster.realnode import HOST_IP, RealNode, ensure_host_network, scheduling_for_real_node
from dataops.devcluster.services import KafkaBroker
from dataops.kube.client import KubeClient
from tests.conftest import ROOT
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.realnode

OPERATOR_NAMESPACE = "dataops-system"
WATCHED = "e2e-*"
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


@dataclass
class RealCluster:
    cp: ControlPlane
    node: RealNode
    images: dict[str, BuiltImage]
    kube: KubeClient
    timings: dict[str, float]

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl(*args, input=input, check=check)

    def apply(self, namespace: str, *docs: dict[str, Any]) -> None:
        self.kubectl("-n", namespace, "apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))

    def image(self, name: str) -> str:
        return self.images[name].ref


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the images (minutes when runtime-images/ or operator/ changed, a hash check otherwise)
    before any test starts, so that no e2e test's timeout pays for the build."""
    if any(item.nodeid.startswith("tests/e2e/") for item in session.items):
        build_images()


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    timings: dict[str, float] = {}
    started = time.monotonic()
    images = build_images()
    timings["images"] = time.monotonic() - started
    ensure_host_network()
    base = tmp_path_factory.mktemp("realcluster")
    cp = ControlPlane(base / "controlplane", node_ip=HOST_IP)
    node = RealNode(cp, base / "node")
    started = time.monotonic()
    cp.start()
    try:
        cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        cp.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        node.start()
        timings["cluster"] = time.monotonic() - started
        started = time.monotonic()
        for image in images.values():
            node.import_image(image.archive, image.ref)
        timings["import"] = time.monotonic() - started
        yield RealCluster(cp, node, images, KubeClient.from_kubeconfig(str(cp.kubeconfig)), timings)
    finally:
        print(f"real-node logs: {node.logs}; control plane logs: {cp.workdir / 'logs'}; timings {timings}")
        node.stop()
        cp.stop()


@pytest.fixture(scope="session")
def pod_broker(real_cluster: RealCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A Kafka broker with a listener on the host's bridge address, which pods reach."""
    broker = KafkaBroker(tmp_path_factory.mktemp("e2e-kafka"), pod_host=HOST_IP).start()
    yield broker
    broker.stop()


def helm(real_cluster: RealCluster, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir() / "helm"), f"--kubeconfig={real_cluster.cp.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


def helm_values(real_cluster: RealCluster, pod_broker: KafkaBroker) -> dict[str, Any]:
    repository, tag = real_cluster.image("operator").rsplit(":", 1)
    placement = scheduling_for_real_node()
    return {
        "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
        "runtimeImage": real_cluster.image("spark"),
        "validatorImage": real_cluster.image("validator"),
        "apiServer": {"url": real_cluster.cp.server},
        "watchNamespace": WATCHED,
        "resyncSeconds": 5,
        "kafkaBootstrap": pod_broker.pod_bootstrap,
        "nodeSelector": placement["nodeSelector"],
        "tolerations": placement["tolerations"],
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "768Mi"}},
    }


@pytest.fixture(scope="session")
def helm_operator(
    real_cluster: RealCluster, pod_broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The operator installed by `helm install` from the built image, under the chart's own RBAC."""
    values = tmp_path_factory.mktemp("helm") / "values.json"
    values.write_text(json.dumps(helm_values(real_cluster, pod_broker)))
    real_cluster.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    real_cluster.kubectl(
        "label", "namespace", OPERATOR_NAMESPACE, *(f"{k}={v}" for k, v in RESTRICTED.items())
    )
    helm(
        real_cluster,
        "install",
        "dataops",
        str(ROOT / "charts" / "dataops-operator"),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--values",
        str(values),
        "--wait",
        "--timeout",
        "180s",
    )
    rollout = real_cluster.kubectl(
        "-n",
        OPERATOR_NAMESPACE,
        "rollout",
        "status",
        "deployment/dataops-operator",
        "--timeout=180s",
        check=False,
    )
    if rollout.returncode != 0:
        pods = real_cluster.kubectl("-n", OPERATOR_NAMESPACE, "describe", "pods", check=False).stdout
        raise AssertionError(f"the operator did not roll out: {rollout.stderr}\n{pods[-3000:]}")
    yield OPERATOR_NAMESPACE
    logs = real_cluster.kubectl(
        "-n",
        OPERATOR_NAMESPACE,
        "logs",
        "-l",
        "app.kubernetes.io/name=dataops-operator",
        "--tail=400",
        "--prefix",
        check=False,
    )
    (real_cluster.cp.workdir / "logs" / "operator-pods.log").write_text(logs.stdout + logs.stderr)
    # test_helm_uninstall_removes_the_release uninstalls it itself when it ran.
    if (
        helm(real_cluster, "status", "dataops", "--namespace", OPERATOR_NAMESPACE, check=False).returncode
        == 0
    ):
        helm(
            real_cluster,
            "uninstall",
            "dataops",
            "--namespace",
            OPERATOR_NAMESPACE,
            "--wait",
            "--timeout",
            "120s",
        )


@pytest.fixture
def e2e_namespace(real_cluster: RealCluster, helm_operator: str) -> Iterator[str]:
    """A namespace the operator watches, at the restricted Pod Security level."""
    name = f"e2e-{uuid.uuid4().hex[:6]}"
    real_cluster.kubectl("create", "namespace", name)
    real_cluster.kubectl("label", "namespace", name, *(f"{k}={v}" for k, v in RESTRICTED.items()))
    # The ServiceAccount admission plugin needs the namespace's default account before any pod.
    wait_for(
        lambda: (
            real_cluster.kubectl("-n", name, "get", "serviceaccount", "default", check=False).returncode == 0
        ),
        timeout=30,
        what="the default ServiceAccount",
    )
    yield name
    real_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@dataclass
class DataVolume:
    """A host folder served to pods as a PersistentVolumeClaim (restricted pods may not use hostPath)."""

    host_path: Path
    claim: str
    mount_path: str = "/data"

    def pod_path(self, *parts: str) -> str:
        return "/".join([self.mount_path, *parts])


@pytest.fixture
def data_volume(real_cluster: RealCluster, e2e_namespace: str, tmp_path: Path) -> Iterator[DataVolume]:
    host = tmp_path / "volume"
    host.mkdir()
    os.chmod(host, 0o777)
    for parent in host.parents:
        if parent == Path("/"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o005)
    pv_name = f"{e2e_namespace}-data"
    real_cluster.kubectl(
        "apply",
        "-f",
        "-",
        input=json.dumps(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": pv_name},
                "spec": {
                    "capacity": {"storage": "1Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "storageClassName": "e2e-manual",
                    "hostPath": {"path": str(host), "type": "Directory"},
                    "claimRef": {"namespace": e2e_namespace, "name": "data"},
                },
            }
        ),
    )
    real_cluster.apply(
        e2e_namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "e2e-manual",
                "volumeName": pv_name,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    wait_for(
        lambda: (
            real_cluster.kubectl(
                "-n", e2e_namespace, "get", "pvc", "data", "-o", "jsonpath={.status.phase}"
            ).stdout
            == "Bound"
        ),
        timeout=60,
        what="the data claim to bind",
    )
    yield DataVolume(host, "data")
    real_cluster.kubectl("delete", "pv", pv_name, "--wait=false", check=False)


def real_node_spark(volume: DataVolume | None = None, **extra: Any) -> dict[str, Any]:
    """spec.spark for runs on the real node: placement, small CPU requests, the data volume."""
    placement = scheduling_for_real_node()
    spark: dict[str, Any] = {
        "imagePullPolicy": "Never",
        "nodeSelector": placement["nodeSelector"],
        "tolerations": placement["tolerations"],
        "driver": {"cores": 1, "memory": "512m", "requestCores": "200m"},
        "executor": {"cores": 1, "memory": "512m", "requestCores": "200m", "instances": 1},
        **extra,
    }
    if volume is not None:
        spark["volumes"] = [{"name": "data", "claimName": volume.claim, "mountPath": volume.mount_path}]
    return spark
