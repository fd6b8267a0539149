"""Reconcile throughput of the operator on the real control plane.

Creates N pipelines at once and measures how long the running operator takes to make all of them
Ready (first and second reconcile, with children applied and status written), then times direct
no-op reconciles of the same objects and counts their API requests. Prints a table.

    python -m benchmarks.reconcile_throughput [--pipelines 200]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.operator_metrics import ready_pipelines
from benchmarks.table import percentile, print_table
from dataops.devcluster.controlplane import ControlPlane
from dataops.devcluster.dev import install_crds, start_operator
from dataops.kube.client import DATA_PIPELINE, KubeClient
from dataops.reconcile.pipeline import reconcile_pipeline

ROOT = Path(__file__).resolve().parent.parent


def run(pipelines: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(Path(tmp)) as cp:
        install_crds(cp)
        operator = start_operator(cp, extra_env={"DATAOPS_RESYNC_SECONDS": "600"})
        try:
            client = KubeClient.from_kubeconfig(str(cp.kubeconfig))
            namespace = "bench"
            cp.kubectl("create", "namespace", namespace)
            suite = yaml.safe_load((ROOT / "examples" / "01-quality-suite.yaml").read_text())
            template = yaml.safe_load((ROOT / "examples" / "03-orders-pipeline.yaml").read_text())
            docs = [suite]
            for i in range(pipelines):
                doc = copy.deepcopy(template)
                doc["metadata"]["name"] = f"orders-{i:04d}"
                docs.append(doc)
            time.sleep(3)  # let the operator start watching
            # From the creation: the operator makes pipelines Ready while kubectl is still creating.
            started = time.monotonic()
            cp.kubectl(
                "-n",
                namespace,
                "apply",
                "-f",
                "-",
                input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}),
            )
            while ready_pipelines(client, namespace) < pipelines:
                if time.monotonic() - started > 600:
                    raise RuntimeError("pipelines not Ready within 600s")
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            rows.append(("pipelines created at once", str(pipelines)))
            rows.append(("time until all Ready (s)", f"{elapsed:.1f}"))
            rows.append(("pipelines made Ready per minute", f"{pipelines / elapsed * 60:.0f}"))

            bodies = client.list(DATA_PIPELINE, namespace)
            durations = []
            counting = KubeClient.from_kubeconfig(str(cp.kubeconfig))
            for body in bodies:
                t0 = time.perf_counter()
                outcome = reconcile_pipeline(counting, body)
                durations.append(time.perf_counter() - t0)
                assert not outcome.status_written and outcome.children_written == 0
            rows.append(("no-op reconcile p50 (ms)", f"{statistics.median(durations) * 1000:.1f}"))
            rows.append(("no-op reconcile p99 (ms)", f"{percentile(durations, 0.99) * 1000:.1f}"))
            rows.append(
                ("API requests per no-op reconcile", f"{sum(counting.requests.values()) / len(bodies):.1f}")
            )
            rows.append(("API writes in all no-op reconciles", str(counting.write_count)))
        finally:
            operator.terminate()
            operator.wait(timeout=15)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pipelines", type=int, default=200)
    args = parser.parse_args()
    rows = run(args.pipelines)
    print_table(rows)


if __name__ == "__main__":
    main()
