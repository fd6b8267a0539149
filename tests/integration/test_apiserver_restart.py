"""The API server and etcd die mid-run and come back (issue 11): the operator recovers without a
restart of its own, the run in flight ends with one recorded outcome and one driver, and new
triggers work again."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane
from dataops.devcluster.dev import start_operator
from dataops.kube.client import DATA_PIPELINE, POD, KubeClient
from tests.integration.conftest import ROOT, RUNTIME_IMAGE, wait_for

pytestmark = pytest.mark.cluster

NAMESPACE = "restart-test"


@pytest.fixture
def own_control_plane(tmp_path: Path) -> Iterator[ControlPlane]:
    """A control plane of its own: restarting the session's would disturb the other tests."""
    cp = ControlPlane(tmp_path / "cp").start()
    try:
        cp.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        cp.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        cp.kubectl("create", "namespace", NAMESPACE)
        yield cp
    finally:
        cp.stop()


def _status(kube: KubeClient) -> dict[str, Any]:
    try:
        body = kube.get(DATA_PIPELINE, NAMESPACE, "orders-daily") or {}
    except Exception:  # the API server may still be starting
        return {}
    return dict(body.get("status") or {})


def test_operator_recovers_from_an_apiserver_and_etcd_restart_mid_run(
    own_control_plane: ControlPlane, example_pipeline: dict[str, Any]
) -> None:
    cp = own_control_plane
    kube = KubeClient.from_kubeconfig(str(cp.kubeconfig))
    operator = start_operator(
        cp,
        extra_env={
            "DATAOPS_NAMESPACE": NAMESPACE,
            "DATAOPS_RESYNC_SECONDS": "3",
            "DATAOPS_RUNTIME_IMAGE": RUNTIME_IMAGE,
        },
    )
    try:
        doc = copy.deepcopy(example_pipeline)
        doc["metadata"].update(namespace=NAMESPACE, annotations={"dataops.dev/run-now": "before"})
        doc["spec"].pop("qualityGates")
        doc["spec"]["schedule"]["cron"] = "0 0 1 1 *"
        doc["spec"]["spark"] = {"podAnnotations": {"kwok.dataops.dev/hang": "true"}}
        cp.kubectl("apply", "--server-side", "-f", "-", input=_yaml(doc))
        run = wait_for(
            lambda: (_status(kube).get("activeRuns") or [None])[0], timeout=60, what="the run started"
        )
        wait_for(lambda: kube.list(POD, NAMESPACE, label_selector="spark-role=driver"), what="driver")

        started = time.monotonic()
        cp.restart_storage_and_apiserver(down_seconds=5)
        print(f"API server and etcd back after {time.monotonic() - started:.1f}s")
        assert operator.poll() is None, "the operator exited when the API server went away"

        # The driver finishes now; the operator, still the same process, records it.
        cp.kubectl("-n", NAMESPACE, "annotate", "pod", run["driverPod"], "kwok.dataops.dev/hang-")
        status = wait_for(
            lambda: (_status(kube).get("lastRun") or {}).get("outcome") == "Succeeded" and _status(kube),
            timeout=90,
            what="the run in flight recorded as Succeeded",
        )
        assert [r["id"] for r in status["history"]] == [run["id"]]
        assert status.get("activeRuns", []) == []

        # A new trigger after the restart runs once (its driver no longer hangs).
        unhang = '{"spec": {"spark": {"podAnnotations": {"kwok.dataops.dev/hang": null}}}}'
        cp.kubectl("-n", NAMESPACE, "patch", "dp", "orders-daily", "--type=merge", "-p", unhang)
        trigger = "dataops.dev/run-now=after"
        cp.kubectl("-n", NAMESPACE, "annotate", "--overwrite", "dp", "orders-daily", trigger)
        status = wait_for(
            lambda: (
                len(_status(kube).get("history") or []) == 2
                and not _status(kube).get("activeRuns")
                and _status(kube)
            ),
            timeout=90,
            what="the run after the restart",
        )
        assert [r["outcome"] for r in status["history"]] == ["Succeeded", "Succeeded"]
        pods = kube.list(POD, NAMESPACE, label_selector="spark-role=driver")
        per_run = sorted(p["metadata"]["labels"]["dataops.dev/run-id"] for p in pods)
        assert per_run == sorted(r["id"] for r in status["history"]), "a duplicate or missing driver"
        assert operator.poll() is None
    finally:
        operator.kill()
        operator.wait()


def _yaml(doc: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(doc))
