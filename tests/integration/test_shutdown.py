"""SIGTERM ends the operator within seconds, busy or standby, and the lease is handed over at once
(issue 11 defect 11: operators used to wait for every queued handler and then be SIGKILLed)."""

from __future__ import annotations

import copy
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.devcluster.controlplane import ControlPlane
from dataops.devcluster.dev import start_operator
from dataops.kube.client import LEASE, KubeClient
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.cluster

GRACE_SECONDS = 10.0


def _operator(cp: ControlPlane, namespace_glob: str, lease: str) -> subprocess.Popen[bytes]:
    return start_operator(
        cp,
        extra_env={
            "DATAOPS_NAMESPACE": namespace_glob,
            "DATAOPS_LEADER_ELECTION": "true",
            "DATAOPS_LEASE_NAME": lease,
            "DATAOPS_LEASE_DURATION_SECONDS": "15",
            "DATAOPS_RESYNC_SECONDS": "2",
        },
    )


def _terminate(proc: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the operator was still running 60 s after SIGTERM")
    assert proc.returncode == 0
    return time.monotonic() - started


def test_busy_leader_and_waiting_standby_exit_promptly_on_sigterm(
    control_plane: ControlPlane, kube: KubeClient, example_pipeline: dict[str, Any], tmp_path: Path
) -> None:
    namespace = f"sig-{uuid.uuid4().hex[:6]}"
    lease = f"sig-{uuid.uuid4().hex[:6]}"
    control_plane.kubectl("create", "namespace", namespace)
    docs = []
    for i in range(150):
        doc = copy.deepcopy(example_pipeline)
        doc["metadata"].update(name=f"p{i}", namespace=namespace, annotations={"dataops.dev/run-now": "x"})
        docs.append(doc)
    manifest = tmp_path / "many.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))

    leader = _operator(control_plane, f"{namespace}*", lease)
    try:
        wait_for(
            lambda: ((kube.get(LEASE, "default", lease) or {}).get("spec") or {}).get("holderIdentity"),
            timeout=30,
            what="leader holds the lease",
        )
        standby = _operator(control_plane, f"{namespace}*", lease)
        control_plane.kubectl("apply", "--server-side", "-f", str(manifest))
        time.sleep(2)  # reconciles are queued and running
        standby_exit = _terminate(standby)
        leader_exit = _terminate(leader)
    finally:
        for proc in (leader,):
            if proc.poll() is None:
                proc.kill()
        control_plane.kubectl("delete", "namespace", namespace, "--wait=false")
    print(f"SIGTERM to exit: busy leader {leader_exit:.1f}s, standby {standby_exit:.1f}s")
    assert leader_exit < GRACE_SECONDS and standby_exit < GRACE_SECONDS
    spec = (kube.get(LEASE, "default", lease) or {}).get("spec") or {}
    assert spec.get("holderIdentity") in ("", None), "the lease was not released"
