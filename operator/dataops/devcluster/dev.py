"""`dataops dev up|down`: the local control plane, the CRDs, the operator and the examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from dataops.api.crdgen import render_crds
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
        input="\n---\n".join(render_crds().values()),
    )
    cp.kubectl(
        "wait",
        "--for=condition=Established",
        "crd",
        "-l",
        "app.kubernetes.io/part-of=dataops",
        "--timeout=60s",
    )


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


def dev_up(workdir: Path, *, examples: Path, with_operator: bool = True) -> int:
    if (workdir / "state.json").exists():
        print(
            f"a control plane is already running from {workdir}; run `dataops dev down` first",
            file=sys.stderr,
        )
        return 1
    started = time.monotonic()
    cp = ControlPlane(workdir)
    try:
        cp.start()
        print(f"control plane up at {cp.server} in {time.monotonic() - started:.1f}s")
        install_crds(cp)
        print("CRDs installed")
        if with_operator:
            operator = start_operator(cp)
            state = json.loads((workdir / "state.json").read_text())
            state["pids"]["operator"] = operator.pid
            (workdir / "state.json").write_text(json.dumps(state, indent=2))
            print(f"operator started (pid {operator.pid}, log {workdir / 'logs' / 'operator.log'})")
        if examples.exists():
            print(cp.kubectl("apply", "-f", str(examples), "--recursive").stdout.strip())
            if with_operator:
                cp.kubectl("wait", "--for=condition=Ready", "datapipelines", "--all", "--timeout=90s")
        print(cp.kubectl("get", "dataops", "-A").stdout)
    except (ControlPlaneError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        stop_from_state(workdir)
        cp.stop()
        return 1
    print(f"export KUBECONFIG={cp.kubeconfig}   # then: kubectl get dataops")
    print("stop everything with: dataops dev down")
    return 0


def dev_down(workdir: Path) -> int:
    if stop_from_state(workdir):
        print("stopped")
        return 0
    print(f"nothing running from {workdir}")
    return 0
