"""Fixtures that start the real control plane (etcd, kube-apiserver, controller-manager, scheduler, KWOK)
and the operator as a separate process, once per test session."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane, free_port
from dataops.devcluster.dev import start_operator
from dataops.devcluster.services import stop_process
from dataops.kube.client import KubeClient
from tests.conftest import ROOT

pytestmark = pytest.mark.cluster

RESYNC_SECONDS = "3"
RUNTIME_IMAGE = "registry.test/dataops/spark-runtime:test"


class Operator:
    """The operator process; can be killed and restarted by tests."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.proc: subprocess.Popen[bytes] | None = None
        self.metrics_port = free_port()

    def start(self) -> None:
        # The session operator watches t-* namespaces; d-* namespaces are left to tests that drive
        # reconcile() themselves with an injected clock.
        self.proc = start_operator(
            cp=self.cp,
            extra_env={
                "DATAOPS_RESYNC_SECONDS": RESYNC_SECONDS,
                "DATAOPS_NAMESPACE": "t-*",
                "DATAOPS_RUNTIME_IMAGE": RUNTIME_IMAGE,
                # Suites in these tests name their own validator image.
                "DATAOPS_ALLOWED_IMAGES": "registry.test/dataops/*",
                "DATAOPS_METRICS_PORT": str(self.metrics_port),
            },
        )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        stop_process(self.proc)

    def restart(self) -> None:
        self.kill()
        self.start()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("controlplane"))
    cp.start()
    # Integration tests load the generated CRDs from crds/, never a copy.
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cp.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    yield cp
    cp.stop()


@pytest.fixture(scope="session")
def operator(control_plane: ControlPlane) -> Iterator[Operator]:
    op = Operator(control_plane)
    op.start()
    yield op
    op.stop()
    log = control_plane.workdir / "logs" / "operator.log"
    tracebacks = log.read_text().count("Traceback") if log.exists() else 0
    print(f"operator log: {log} ({tracebacks} tracebacks)")


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> KubeClient:
    return KubeClient.from_kubeconfig(str(control_plane.kubeconfig))


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def manual_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A namespace no operator watches."""
    name = f"d-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def kubectl(control_plane: ControlPlane, namespace: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return control_plane.kubectl("-n", namespace, *args, input=input, check=check)

    return run


def apply(kubectl: Callable[..., Any], *docs: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value: {last!r}")


def condition(body: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    if not body:
        return None
    for cond in (body.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            return dict(cond)
    return None


def write_manifest(tmp_path: Path, doc: dict[str, Any]) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(json.dumps(doc))
    return path
