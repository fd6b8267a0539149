"""The running operator's /metrics passes `promtool check metrics` and has what the alerts use."""

from __future__ import annotations

import re
import subprocess
import urllib.request
from typing import Any

import pytest

from dataops.devcluster.controlplane import bin_dir
from tests.integration.conftest import Operator, apply, wait_for
from tests.monitoring.test_alerts import RULES

pytestmark = pytest.mark.cluster


def _scrape(port: int) -> str:
    """The exposition, or "" while the (possibly just restarted) operator is not serving yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return ""


def test_operator_metrics(
    operator: Operator, kubectl: Any, example_pipeline: dict[str, Any], example_suite: dict[str, Any]
) -> None:
    apply(kubectl, example_suite, example_pipeline)
    text = wait_for(
        lambda: (
            (t := _scrape(operator.metrics_port)) and 'dataops_reconcile_total{kind="DataPipeline"' in t and t
        ),
        what="reconcile metrics",
    )
    check = subprocess.run(
        [str(bin_dir() / "promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    declared = set(re.findall(r"^# TYPE (\S+)", text, re.MULTILINE))
    used = set(re.findall(r"\b(dataops_[a-z_]+)", RULES.read_text()))
    histogram_series = {u for u in used if u.endswith("_bucket")}
    assert {u.removesuffix("_bucket") for u in histogram_series} <= declared
    for name in used - histogram_series:  # counters are declared without their _total suffix
        assert name in declared or name.removesuffix("_total") in declared, name
    assert re.search(r'dataops_reconcile_duration_seconds_bucket\{kind="DataPipeline",le="0.1"\} \d', text)
    assert "name=" not in text, "no per-object label on operator metrics"
