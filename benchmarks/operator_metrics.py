"""What a benchmark reads of the operator: its Prometheus endpoint, and the pipelines it made Ready."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

from dataops.kube.client import DATA_PIPELINE, KubeClient

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_usage(pid: int) -> tuple[float, float, float]:
    """(RSS MiB, peak RSS MiB, CPU seconds) of a process, from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024, cpu


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    return {name: process_usage(pid)[2] for name, pid in pids.items()}


def ready_pipelines(client: KubeClient, namespace: str) -> int:
    """Pipelines of ``namespace`` whose Ready condition is True, as the API server has them."""
    return sum(
        1
        for body in client.list(DATA_PIPELINE, namespace)
        for cond in (body.get("status") or {}).get("conditions") or []
        if cond["type"] == "Ready" and cond["status"] == "True"
    )


def scrape(port: int) -> dict[str, float]:
    """The counters benchmarks follow: API requests the operator sent (all verbs, ``requests``) and
    reconciles by kind (``DataPipeline``, ``DataPolicy``, ...)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("dataops_api_requests_total{"):
            totals["requests"] = totals.get("requests", 0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("dataops_reconcile_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            totals[kind] = totals.get(kind, 0) + float(line.rsplit(" ", 1)[1])
    return totals


def pipelines_in_phase(port: int, namespace: str, phase: str) -> int:
    """``dataops_pipelines{namespace,phase}``: a cheap progress signal (no list of every pipeline)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    prefix = f'dataops_pipelines{{namespace="{namespace}",phase="{phase}"}} '
    return sum(int(float(line[len(prefix) :])) for line in text.splitlines() if line.startswith(prefix))


def wait_for_metrics(port: int, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            scrape(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def until_quiet(
    port: int, quiet_seconds: float = 5.0, limit: float = 600.0
) -> tuple[dict[str, float], float]:
    """The counters once they stopped moving for ``quiet_seconds``, and when they last moved."""
    started = time.monotonic()
    last = scrape(port)
    last_change = time.monotonic()
    while time.monotonic() - last_change < quiet_seconds:
        if time.monotonic() - started > limit:
            raise RuntimeError(f"the operator did not settle within {limit:.0f}s")
        time.sleep(0.5)
        now = scrape(port)
        if now != last:
            last, last_change = now, time.monotonic()
    return last, last_change
