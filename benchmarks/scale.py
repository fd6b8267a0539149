"""Scale: thousands of DataPipelines and a handful of DataPolicies on one operator.

On a fresh control plane (etcd + kube-apiserver + controller-manager; no pod runs, so no node is
needed), with the operator running as its own process:

1. 10 DataPolicies (the example policy, each selecting one team's pipelines) and N DataPipelines
   (the example pipeline, labelled with one of the 10 teams) are created at once by 8 client threads;
   the clock runs until every pipeline is Ready.
2. The operator's memory (RSS now and at its peak) and CPU seconds are read from /proc.
3. One policy's spec is edited (retention lowered); the benchmark counts the API requests the
   operator sends because of it (``dataops_api_requests_total`` on its metrics endpoint, until it is
   quiet for 5 s) and the reconciles by kind.

    python -m benchmarks.scale [--pipelines 5000] [--policies 10]

Targets (issue 14): 5,000 pipelines and 10 policies, operator RSS under 250 MiB. The baseline for
the time to Ready is a bare client creating the same pipelines (printed as the creation time).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from benchmarks.operator_metrics import (
    pipelines_in_phase,
    process_usage,
    ready_pipelines,
    until_quiet,
    wait_for_metrics,
)
from benchmarks.table import print_table
from dataops.devcluster.controlplane import ControlPlane, free_port
from dataops.devcluster.dev import install_crds, start_operator
from dataops.kube.client import DATA_POLICY, KubeClient

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "bench"


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return loaded


def _policies(count: int) -> list[dict[str, Any]]:
    template = _example("02-policy.yaml")
    docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["metadata"] = {"name": f"team-{i}-governance", "namespace": NAMESPACE}
        doc["spec"]["pipelineSelector"] = {"matchLabels": {"team": f"team-{i}"}}
        docs.append(doc)
    return docs


def _pipelines(count: int, teams: int) -> list[dict[str, Any]]:
    template = _example("03-orders-pipeline.yaml")
    docs = []
    for i in range(count):
        doc = copy.deepcopy(template)
        doc["metadata"] = {
            "name": f"orders-{i:05d}",
            "namespace": NAMESPACE,
            "labels": {"team": f"team-{i % teams}"},
        }
        docs.append(doc)
    return docs


def _create_all(client: KubeClient, docs: list[dict[str, Any]]) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(client.create, docs))


def run(pipelines: int, policies: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp, ControlPlane(Path(tmp)) as cp:
        install_crds(cp)
        metrics_port = free_port()
        operator = start_operator(
            cp, extra_env={"DATAOPS_RESYNC_SECONDS": "3600", "DATAOPS_METRICS_PORT": str(metrics_port)}
        )
        try:
            client = KubeClient.from_kubeconfig(str(cp.kubeconfig))
            cp.kubectl("create", "namespace", NAMESPACE)
            for name in ("00-masking-key.yaml", "01-quality-suite.yaml"):
                cp.kubectl("-n", NAMESPACE, "apply", "-f", str(ROOT / "examples" / name))
            wait_for_metrics(metrics_port)
            until_quiet(metrics_port, quiet_seconds=2.0)
            _, _, cpu_before = process_usage(operator.pid)

            started = time.monotonic()
            _create_all(client, _policies(policies))
            _create_all(client, _pipelines(pipelines, policies))
            created = time.monotonic() - started
            peak_rss = 0.0
            # Progress from the operator's phase gauge (listing 5,000 pipelines every second would load
            # the API server we measure); then the API server's own answer decides.
            while True:
                peak_rss = max(peak_rss, process_usage(operator.pid)[1])
                if time.monotonic() - started > 3600:
                    raise RuntimeError(f"not every one of {pipelines} pipelines Ready within 3600s")
                gauge = pipelines_in_phase(metrics_port, NAMESPACE, "Ready")
                if gauge >= pipelines and ready_pipelines(client, NAMESPACE) >= pipelines:
                    break
                time.sleep(1.0)
            elapsed = time.monotonic() - started
            counters, _ = until_quiet(metrics_port)
            rss, peak_rss, cpu = process_usage(operator.pid)
            rows += [
                ("pipelines / policies", f"{pipelines} / {policies}"),
                ("bare client (8 threads): all created (s)", f"{created:.1f}"),
                ("operator: all Ready (s)", f"{elapsed:.1f}"),
                ("pipelines made Ready per minute", f"{pipelines / elapsed * 60:.0f}"),
                ("operator CPU until all Ready and quiet (s)", f"{cpu - cpu_before:.1f}"),
                ("operator RSS after (MiB)", f"{rss:.0f}"),
                ("operator peak RSS (MiB; target < 250)", f"{peak_rss:.0f}"),
                ("API requests until quiet, per pipeline", f"{counters['requests'] / pipelines:.1f}"),
                (
                    "pipeline reconciles until quiet, per pipeline",
                    f"{counters['DataPipeline'] / pipelines:.2f}",
                ),
            ]

            policy = client.get(DATA_POLICY, NAMESPACE, "team-0-governance")
            assert policy is not None
            changed = time.monotonic()
            client.request(
                "PATCH",
                DATA_POLICY.path(NAMESPACE, "team-0-governance"),
                body={"spec": {"retention": {"maxDays": 700}}},
                content_type="application/merge-patch+json",
            )
            after, last_change = until_quiet(metrics_port)
            selected = pipelines // policies + (1 if pipelines % policies else 0)
            rows += [
                ("one policy edit: pipelines it selects", str(selected)),
                ("one policy edit: API requests", f"{after['requests'] - counters['requests']:.0f}"),
                (
                    "one policy edit: pipeline / policy reconciles",
                    f"{after.get('DataPipeline', 0) - counters.get('DataPipeline', 0):.0f}"
                    f" / {after.get('DataPolicy', 0) - counters.get('DataPolicy', 0):.0f}",
                ),
                ("one policy edit: operator busy for (s)", f"{last_change - changed:.1f}"),
            ]
        finally:
            operator.terminate()
            operator.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipelines", type=int, default=5000)
    parser.add_argument("--policies", type=int, default=10)
    args = parser.parse_args()
    print_table(run(args.pipelines, args.policies))


if __name__ == "__main__":
    main()
