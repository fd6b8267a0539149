"""Alerting rules checked and unit-tested with promtool (the real Prometheus tooling)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dataops.devcluster.controlplane import bin_dir
from tests.conftest import ROOT

RULES = ROOT / "charts" / "dataops-operator" / "files" / "alerts.yaml"
HERE = Path(__file__).parent


def _promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir() / "promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_rules_are_valid() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_rules_fire_as_expected() -> None:
    result = _promtool("test", "rules", "alerts_test.yaml", cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
