"""Time from run trigger to driver pod created, for many simultaneous runs on the control plane.

Starts the loopback control plane and the operator, creates N pipelines and waits until they are
Ready, then triggers a run of every one at once (the ``dataops.dev/run-now`` annotation) and
watches for the driver pods. Per run: driver pod first seen minus trigger sent (client clock,
from a watch). Prints median, p99 and runs per minute, and the pipeline set-up rate.

    python -m benchmarks.run_launch [--runs 500]

Target: over 1,000 runs per minute (the Kubeflow Spark Operator publishes about 130 per minute).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch

from benchmarks.table import percentile, print_table
from dataops.devcluster.controlplane import ControlPlane
from dataops.devcluster.dev import install_crds, start_operator
from dataops.kube.client import DATA_PIPELINE, KubeClient

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"
RUN_NOW = "dataops.dev/run-now"


def _pipelines(count: int) -> list[dict[str, Any]]:
    template = yaml.safe_load((ROOT / "examples" / "03-orders-pipeline.yaml").read_text())
    template["spec"].pop("qualityGates")
    template["spec"]["spark"] = {"podAnnotations": {"kwok.dataops.dev/hang": "true"}}
    docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["metadata"] = {
            "name": f"run-{i:04d}",
            "namespace": NAMESPACE,
        }
        docs.append(doc)
    return docs


def _ready(client: KubeClient) -> int:
    return sum(
        1
        for body in client.list(DATA_PIPELINE, NAMESPACE)
        for cond in (body.get("status") or {}).get("conditions") or []
        if cond["type"] == "Ready" and cond["status"] == "True"
    )


def run(count: int, workers: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(Path(tmp)) as cp:
        install_crds(cp)
        operator = start_operator(
            cp, extra_env={"DATAOPS_RESYNC_SECONDS": "600", "DATAOPS_WORKERS": str(workers)}
        )
        try:
            client = KubeClient.from_kubeconfig(str(cp.kubeconfig))
            cp.kubectl("create", "namespace", NAMESPACE)
            time.sleep(3)  # let the operator start watching
            docs = _pipelines(count)

            # Phase 1: the pipelines themselves (children, status), without runs.
            setup_started = time.monotonic()
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(client.create, docs))
            while _ready(client) < count:
                if time.monotonic() - setup_started > 900:
                    raise RuntimeError("pipelines not Ready within 900s")
                time.sleep(0.5)
            setup = time.monotonic() - setup_started

            # Phase 2: trigger every pipeline at once (the run-now annotation) and watch for drivers.
            triggered: dict[str, float] = {}

            def trigger(name: str) -> None:
                triggered[name] = time.monotonic()  # when the trigger is sent
                client.patch(DATA_PIPELINE, NAMESPACE, name, {"metadata": {"annotations": {RUN_NOW: "1"}}})

            seen: dict[str, float] = {}
            core = k8s.CoreV1Api(k8s_config.new_client_from_config(str(cp.kubeconfig)))
            watch = k8s_watch.Watch()
            with ThreadPoolExecutor(max_workers=16) as pool:
                futures = [pool.submit(trigger, d["metadata"]["name"]) for d in docs]
                # A watch, not polling: the measuring client must not load the API server itself.
                for event in watch.stream(
                    core.list_namespaced_pod,
                    NAMESPACE,
                    label_selector="spark-role=driver",
                    timeout_seconds=900,
                ):
                    pipeline = event["object"].metadata.labels["dataops.dev/pipeline"]
                    seen.setdefault(pipeline, time.monotonic())
                    if len(seen) >= count:
                        watch.stop()
                for future in futures:
                    future.result()
            if len(seen) < count:
                raise RuntimeError(f"only {len(seen)} of {count} driver pods after 900s")
            latencies = [seen[name] - triggered[name] for name in triggered]
            span = max(seen.values()) - min(triggered.values())
            triggering = max(triggered.values()) - min(triggered.values())
        finally:
            operator.terminate()
            operator.wait(timeout=30)
    return [
        ("pipelines", str(count)),
        ("operator workers", str(workers)),
        ("pipelines created -> all Ready (s)", f"{setup:.1f}"),
        ("pipelines made Ready per minute", f"{count / setup * 60:.0f}"),
        ("simultaneous run triggers sent in (s)", f"{triggering:.1f}"),
        ("trigger -> driver pod, median (s)", f"{statistics.median(latencies):.2f}"),
        ("trigger -> driver pod, p99 (s)", f"{percentile(latencies, 0.99):.2f}"),
        ("first trigger -> last driver pod (s)", f"{span:.1f}"),
        ("runs launched per minute", f"{count / span * 60:.0f}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    rows = run(args.runs, args.workers)
    print_table(rows)


if __name__ == "__main__":
    main()
