"""`dataops run`: the bundled example end to end in a fresh process, and a failing run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from dataops.lineage.validate import EventValidator
from tests.conftest import EXAMPLES, ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dataops.cli", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_example_pipeline_runs_locally(tmp_path: Path, lineage_validator: EventValidator) -> None:
    events = tmp_path / "lineage.jsonl"
    result = _run("-f", str(EXAMPLES), "--lineage", f"file:{events}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "quality gate orders-quality on completed_orders" in result.stderr  # the gate ran
    assert "warning" not in result.stdout
    lines = [line.split("|") for line in result.stdout.splitlines() if line.count("|") == 2]
    table = {(c[0].strip(), c[1].strip()): c[2].strip() for c in lines}
    assert table[("orders", "read")] == "200" and table[("customers", "read")] == "40"
    assert table[("revenue", "written")] == "108"  # (country, order_date) pairs
    assert "retention: revenue: 0 partition(s) dropped" in result.stdout
    assert "Succeeded" in result.stdout
    assert "reading source orders" in result.stderr  # progress while it runs
    emitted = [json.loads(line) for line in events.read_text().splitlines()]
    # the pipeline run, and its quality gate as a child run (ParentRunFacet) that ends before it
    assert [(e["job"]["name"], e["eventType"]) for e in emitted] == [
        ("orders-daily", "START"),
        ("orders-daily.orders-quality", "START"),
        ("orders-daily.orders-quality", "COMPLETE"),
        ("orders-daily", "COMPLETE"),
    ]
    assert {e["job"]["namespace"] for e in emitted} == {"dataops://default"}
    parent = emitted[1]["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == emitted[0]["run"]["runId"]
    assert (parent["job"]["namespace"], parent["job"]["name"]) == ("dataops://default", "orders-daily")
    for event in emitted:
        assert lineage_validator.errors(event) == []


def test_failing_run_exits_non_zero_with_the_step_named(
    tmp_path: Path, example_pipeline: dict[str, Any]
) -> None:
    example_pipeline["spec"]["transforms"][1]["sql"] = "SELECT nonsense FROM completed_orders"
    example_pipeline["spec"]["sinks"][0]["path"] = str(tmp_path / "out")
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(example_pipeline))
    result = _run("-f", str(path), str(EXAMPLES / "01-quality-suite.yaml"))
    assert result.returncode == 1
    assert "error: step 'revenue_by_country':" in result.stdout
    assert "nonsense" in result.stdout


def test_invalid_manifest_is_rejected_before_spark_starts(
    tmp_path: Path, example_pipeline: dict[str, Any]
) -> None:
    example_pipeline["spec"]["sinks"][0]["mode"] = "upsert"
    path = tmp_path / "invalid.yaml"
    path.write_text(yaml.safe_dump(example_pipeline))
    result = _run("-f", str(path))
    assert result.returncode == 2
    assert "spec.sinks[0].mode: Unsupported value" in result.stderr


def test_a_write_error_ends_with_one_error_line_naming_the_sink(
    tmp_path: Path, example_pipeline: dict[str, Any]
) -> None:
    """Issue 12: an unwritable sink path (here its parent is a file) escaped as a JVM traceback of
    hundreds of lines; now one `error: sink '<name>': <cause>` line, the summary and exit 1."""
    parent = tmp_path / "not-a-dir"
    parent.write_text("x")
    example_pipeline["spec"].pop("qualityGates")
    example_pipeline["spec"]["sinks"][0]["path"] = str(parent / "out")
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(example_pipeline))
    result = _run("-f", str(path))
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(errors) == 1 and errors[0].startswith("error: sink 'revenue':"), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "| written" in result.stdout or "| read" in result.stdout  # the summary table is there
