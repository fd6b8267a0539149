"""`dataops dev up|down`: the local control plane, the CRDs, the operator and the examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dataops.api.crdgen import render_manifests
from dataops.devcluster.controlplane import CACHE, ControlPlane, ControlPlaneError, free_port, stop_from_state

DEFAULT_WORKDIR = CACHE / "dev"


def install_crds(cp: ControlPlane) -> None:
    cp.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=dataops-dev",
        "-f",
        "-",
        input="\n---\n".join(render_manifests().values()),
    )
    cp.kubectl(
        "wait",
        "--for=condition=Established",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=dataops",
        "--timeout=60s",
    )
    _wait_for_admission_policy(cp)


_PROBE_SUITE = json.dumps(
    {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "admission-probe", "namespace": "default"},
        "spec": {"expectations": [{"type": "expect_column_values_to_be_between", "column": "a"}]},
    }
)


def _wait_for_admission_policy(cp: ControlPlane, timeout: float = 60) -> None:
    """The API server enforces a new admission policy once its informer has seen it (about a second)."""
    deadline = time.monotonic() + timeout
    while True:
        probe = cp.kubectl("create", "--dry-run=server", "-f", "-", input=_PROBE_SUITE, check=False)
        if probe.returncode != 0 and "ValidatingAdmissionPolicy" in probe.stderr:
            return
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"admission policy not enforced after {timeout:.0f}s: {probe.stderr}")
        time.sleep(0.3)


def start_operator(cp: ControlPlane, *, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATAOPS_KUBECONFIG": str(cp.kubeconfig),
        "KUBECONFIG": str(cp.kubeconfig),
        "DATAOPS_METRICS_PORT": str(free_port()),
        "DATAOPS_HEALTH_PORT": "0",
        **(extra_env or {}),
    }
    log = (cp.workdir / "logs" / "operator.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "dataops.cli", "operator"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def _start_real_node(cp: ControlPlane, workdir: Path) -> dict[str, str]:
    """The real node plus the images from runtime-images/; returns the operator's image settings."""
    from dataops.devcluster.images import build_images
    from dataops.devcluster.realnode import RealNode

    started = time.monotonic()
    images = build_images()
    print(f"images ready in {time.monotonic() - started:.1f}s: " + ", ".join(i.ref for i in images.values()))
    node = RealNode(cp, workdir / "node").start()
    for image in images.values():
        node.import_image(image.archive, image.ref)
    state = json.loads((workdir / "state.json").read_text())
    state["node"] = {"workdir": str(node.workdir), "socket": str(node.socket)}
    state["pids"] |= {name: proc.pid for name, proc in node.processes.items()}
    (workdir / "state.json").write_text(json.dumps(state, indent=2))
    print(f"real node {node.name} Ready (pods on {node.pod_cidr}; logs {node.logs})")
    return {
        "DATAOPS_RUNTIME_IMAGE": images["spark"].ref,
        "DATAOPS_VALIDATOR_IMAGE": images["validator"].ref,
        "DATAOPS_API_SERVER_URL": cp.server,
    }


def dev_up(workdir: Path, *, examples: Path, with_operator: bool = True, real_node: bool = False) -> int:
    if (workdir / "state.json").exists():
        print(
            f"a control plane is already running from {workdir}; run `dataops dev down` first",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    if real_node:
        from dataops.devcluster.realnode import HOST_IP, ensure_host_network

        ensure_host_network()
    cp = ControlPlane(workdir, node_ip=HOST_IP if real_node else None)
    try:
        cp.start()
        print(f"control plane up at {cp.server} in {time.monotonic() - started:.1f}s")
        install_crds(cp)
        print("CRDs installed")
        operator_env = _start_real_node(cp, workdir) if real_node else {}
        if with_operator:
            operator = start_operator(cp, extra_env=operator_env)
            state = json.loads((workdir / "state.json").read_text())
            state["pids"]["operator"] = operator.pid
            (workdir / "state.json").write_text(json.dumps(state, indent=2))
            print(f"operator started (pid {operator.pid}, log {workdir / 'logs' / 'operator.log'})")
        if examples.exists():
            print(cp.kubectl("apply", "-f", str(examples)).stdout.strip())
            if with_operator:
                cp.kubectl("wait", "--for=condition=Ready", "datapipelines", "--all", "--timeout=90s")
        print(cp.kubectl("get", "dataops", "-A").stdout)
    except (ControlPlaneError, OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        dev_down(workdir)
        cp.stop()
        return 1
    print(f"export KUBECONFIG={cp.kubeconfig}   # then: kubectl get dataops")
    print("stop everything with: dataops dev down")
    return 0


def dev_down(workdir: Path) -> int:
    state_file = workdir / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if state.get("node"):
            from dataops.devcluster.realnode import stop_node_from_state

            stop_node_from_state(state)
    if stop_from_state(workdir):
        print("stopped")
        return 0
    print(f"nothing running from {workdir}")
    return 0
