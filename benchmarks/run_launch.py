"""Time from run trigger to driver pod created, for many simultaneous runs on the control plane.

Starts the loopback control plane and the operator, creates N pipelines and waits until they are
Ready, then triggers a run of every one at once (the ``dataops.dev/run-now`` annotation) and
watches for the driver pods. Per run: driver pod first seen minus trigger sent (client clock,
from a watch). Prints median, p99 and runs per minute, and the pipeline set-up rate.

    python -m benchmarks.run_launch [--runs 500]

Then the baseline, on the same control plane: a bare client with 8 threads creates, for every run,
a copy of the one object the operator created for it (its driver Pod, renamed, without the
operator's labels so it does not react to it), and the ratio of the two rates is printed. The
operator's API requests per run come from its
``dataops_api_requests_total`` (the trigger's reconcile until the operator is quiet again), and the
CPU seconds the operator, kube-apiserver, etcd and KWOK spent while the runs launched from /proc
(the machine's 2 cores are what they share).

Targets (issue 14): at least 0.8 of the bare client's rate; p99 trigger -> driver pod under 5 s for 300
simultaneous triggers. (The Kubeflow Spark Operator publishes about 130 runs per minute.)
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

from benchmarks.operator_metrics import cpu_seconds, ready_pipelines, until_quiet, wait_for_metrics
from benchmarks.table import percentile, print_table
from dataops.devcluster.controlplane import ControlPlane, free_port
from dataops.devcluster.dev import install_crds, start_operator
from dataops.kube.client import DATA_PIPELINE, POD, KubeClient

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


def _bare_copy(obj: dict[str, Any], suffix: str) -> dict[str, Any]:
    """``obj`` as a client would create it afresh: renamed, no server-set or operator fields."""
    meta = obj["metadata"]
    copied = {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj["kind"],
        "metadata": {
            "name": meta["name"] + suffix,
            "namespace": meta["namespace"],
            "labels": {"bench": "bare"},
        },
    }
    if "data" in obj:
        copied["data"] = obj["data"]
    if "spec" in obj:
        spec = copy.deepcopy(obj["spec"])
        spec.pop("nodeName", None)
        copied["spec"] = spec
    return copied


def bare_client_launch(client: KubeClient, threads: int = 8) -> tuple[int, float]:
    """Creates a copy of every run's objects (its driver Pod: each run has no other) with ``threads``
    threads; returns (runs, seconds)."""
    pods = client.list(POD, NAMESPACE, label_selector="spark-role=driver")
    copies = [_bare_copy(pod, "-bare") for pod in pods]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(client.create, copies))
    return len(copies), time.monotonic() - started


def run(count: int, workers: int) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(Path(tmp)) as cp:
        install_crds(cp)
        metrics_port = free_port()
        operator = start_operator(
            cp,
            extra_env={
                "DATAOPS_RESYNC_SECONDS": "600",
                "DATAOPS_WORKERS": str(workers),
                "DATAOPS_METRICS_PORT": str(metrics_port),
            },
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
            while ready_pipelines(client, NAMESPACE) < count:
                if time.monotonic() - setup_started > 900:
                    raise RuntimeError("pipelines not Ready within 900s")
                time.sleep(0.5)
            setup = time.monotonic() - setup_started

            wait_for_metrics(metrics_port)
            before, _ = until_quiet(metrics_port, quiet_seconds=3.0)
            pids = {
                "operator": operator.pid,
                "kube-apiserver": cp.processes["kube-apiserver"].pid,
                "etcd": cp.processes["etcd"].pid,
                "kwok": cp.processes["kwok"].pid,
            }
            cpu_before = cpu_seconds(pids)

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
            cpu_launch = {k: v - cpu_before[k] for k, v in cpu_seconds(pids).items()}
            latencies = [seen[name] - triggered[name] for name in triggered]
            span = max(seen.values()) - min(triggered.values())
            triggering = max(triggered.values()) - min(triggered.values())
            after, _ = until_quiet(metrics_port, quiet_seconds=5.0)
            requests_per_run = (after["requests"] - before["requests"]) / count

            # Phase 3: the baseline on the same control plane.
            bare_runs, bare_seconds = bare_client_launch(client)
            if bare_runs != count:
                raise RuntimeError(f"{bare_runs} runs to copy, expected {count}")
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
        ("operator API requests per run (trigger until quiet)", f"{requests_per_run:.1f}"),
        *(
            (f"CPU seconds, first trigger -> last driver pod: {name}", f"{seconds:.1f}")
            for name, seconds in cpu_launch.items()
        ),
        ("bare client, 8 threads: the run's Pod (s)", f"{bare_seconds:.1f}"),
        ("bare client runs per minute", f"{count / bare_seconds * 60:.0f}"),
        ("operator / bare client rate (target >= 0.8)", _verdict(bare_seconds / span, 0.8, at_least=True)),
        (
            "p99 trigger -> driver pod (target < 5 s)",
            _verdict(percentile(latencies, 0.99), 5.0, at_least=False),
        ),
    ]


def _verdict(value: float, target: float, *, at_least: bool) -> str:
    met = value >= target if at_least else value < target
    return f"{value:.2f} ({'met' if met else 'NOT MET'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    rows = run(args.runs, args.workers)
    print_table(rows)


if __name__ == "__main__":
    main()
