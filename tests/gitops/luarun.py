"""Run Argo CD resource-customization Lua through hack/luatest (gopher-lua, as Argo CD runs it)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CUSTOMIZATIONS = ROOT / "examples/argocd/resource_customizations/dataops.dev"
KINDS = ("DataPipeline", "DataQualitySuite", "DataPolicy")
HEALTH_STATES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
# Action tests run on a fixed clock so a run-now token is reproducible.
ACTION_CLOCK = "2026-11-20T02:05:00Z"


def build_luatest() -> Path:
    """Build (or reuse the cached) luatest binary; its path is the script's last line."""
    out = subprocess.run(
        ["bash", str(ROOT / "hack/build-luatest.sh")], capture_output=True, text=True, check=True, timeout=600
    )
    return Path(out.stdout.strip().splitlines()[-1])


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@dataclass
class Lua:
    binary: Path

    def run(self, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = subprocess.run(
            [str(self.binary)],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        results: list[dict[str, Any]] = json.loads(out.stdout)
        return results

    def one(self, mode: str, script: str, obj: dict[str, Any], *, now: str = ACTION_CLOCK) -> dict[str, Any]:
        return self.run([{"mode": mode, "script": script, "object": obj, "now": now}])[0]

    def health(self, kind: str, obj: dict[str, Any], script: str | None = None) -> dict[str, str]:
        result = self.one("health", script or health_script(kind), obj)
        assert "error" not in result, result["error"]
        health: dict[str, str] = result["health"]
        return health


def health_script(kind: str) -> str:
    return (CUSTOMIZATIONS / kind / "health.lua").read_text()


def action_script(kind: str, action: str) -> str:
    return (CUSTOMIZATIONS / kind / "actions" / action / "action.lua").read_text()


def discovery_script(kind: str) -> str:
    return (CUSTOMIZATIONS / kind / "actions" / "discovery.lua").read_text()


def health_tests() -> list[tuple[str, dict[str, Any]]]:
    """Every case of every health_test.yaml, as (kind, case)."""
    cases = []
    for kind in KINDS:
        for case in load_yaml(CUSTOMIZATIONS / kind / "health_test.yaml")["tests"]:
            cases.append((kind, case))
    return cases


def action_tests() -> list[tuple[str, str, dict[str, Any]]]:
    """Every discovery and action case of every actions/action_test.yaml, as (kind, section, case)."""
    cases: list[tuple[str, str, dict[str, Any]]] = []
    for kind in KINDS:
        path = CUSTOMIZATIONS / kind / "actions" / "action_test.yaml"
        if not path.exists():
            continue
        spec = load_yaml(path)
        for section in ("discoveryTests", "actionTests"):
            cases.extend((kind, section, case) for case in spec.get(section) or [])
    return cases
