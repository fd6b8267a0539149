"""A real Prometheus server for tests: scrapes the operator every second and evaluates the chart's
rules (as the chart's PrometheusRule renders them) every second, with its TSDB in a temporary
directory. Queried through its HTTP API."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from dataops.devcluster.controlplane import bin_dir, free_port
from dataops.devcluster.services import stop_process
from tests.conftest import ROOT

CHART = ROOT / "charts" / "dataops-operator"
JOB = "dataops-operator"  # the job name the shipped alerts (DataOpsOperatorDown) expect


def chart_rule_groups() -> list[dict[str, Any]]:
    """The rule groups of the PrometheusRule the chart renders (prometheusRule.enabled=true)."""
    rendered = subprocess.run(
        [
            str(bin_dir() / "helm"),
            "template",
            "dataops",
            str(CHART),
            "--namespace",
            "dataops-system",
            "--set",
            "prometheusRule.enabled=true",
            "--kube-version",
            "1.34.0",  # the chart requires >=1.30; helm's offline default is older
            "--show-only",
            "templates/prometheusrule.yaml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    (rule,) = [d for d in yaml.safe_load_all(rendered) if d and d.get("kind") == "PrometheusRule"]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


class PrometheusError(AssertionError):
    pass


class PrometheusServer:
    def __init__(self, workdir: Path, *, metrics_port: int, groups: list[dict[str, Any]]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "rules.yaml")],
            "scrape_configs": [
                {"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = workdir / "prometheus.log"

    def start(self, timeout: float = 60) -> PrometheusServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(bin_dir() / "prometheus"),
                    f"--config.file={self.workdir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PrometheusError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        raise PrometheusError(f"prometheus not ready after {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        stop_process(self.proc)

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of a successful API answer; PrometheusError with its message otherwise."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:  # 400/422 carry the error as JSON
            answer = json.load(exc)
        if answer.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant vector query's samples (``metric`` labels and ``value``)."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def alerts(self, name: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return [a for a in found if name is None or a["labels"].get("alertname") == name]

    def rules(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self.api("rules")["groups"]
        return groups

    def targets_up(self) -> bool:
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)
