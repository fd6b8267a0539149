"""One connected lineage graph from real runs: `dataops run` of two pipelines (B reads A's sink) and
`dataops check` of a suite over A's sink, all sending OpenLineage over HTTP to the receiver."""

from __future__ import annotations

import csv
import json
import urllib.request
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.sql import SparkSession

from dataops.cli import main
from dataops.lineage.receiver import LineageReceiver

pytestmark = pytest.mark.spark

NS = "dataops://lineage-test"


def _write(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def _setup(tmp: Path) -> dict[str, Path]:
    raw = tmp / "raw" / "orders.csv"
    raw.parent.mkdir()
    with raw.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "country", "amount", "status"])
        for i in range(60):
            writer.writerow([i, ["DE", "FR", "NL"][i % 3], i * 1.5, "done" if i % 4 else "cancelled"])
    table, report = tmp / "lake" / "orders", tmp / "lake" / "by_country"
    meta = {"namespace": "lineage-test"}
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "orders-quality", **meta},
        "spec": {"expectations": [{"type": "expect_column_values_to_not_be_null", "column": "order_id"}]},
    }
    pipeline_a = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "ingest", **meta},
        "spec": {
            "sources": [
                {"name": "raw", "file": {"path": str(raw), "format": "csv", "options": {"header": "true"}}}
            ],
            "transforms": [{"name": "done", "sql": "SELECT * FROM raw WHERE status = 'done'"}],
            "qualityGates": [{"suiteRef": {"name": "orders-quality"}, "dataset": "done", "action": "block"}],
            "sinks": [{"name": "orders", "from": "done", "path": f"{table}/", "mode": "overwrite"}],
        },
    }
    pipeline_b = {  # reads A's sink spelled differently: a file: URI
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "report", **meta},
        "spec": {
            "sources": [{"name": "orders", "file": {"path": f"file://{table}", "format": "parquet"}}],
            "transforms": [
                {"name": "totals", "sql": "SELECT country, count(*) AS n FROM orders GROUP BY country"}
            ],
            "sinks": [{"name": "by_country", "from": "totals", "path": str(report), "mode": "overwrite"}],
        },
    }
    standalone = {  # a suite validating A's sink on its own schedule (`dataops check`)
        **suite,
        "metadata": {"name": "orders-audit", **meta},
        "spec": {**suite["spec"], "dataset": {"path": f"{table}//", "format": "parquet"}},
    }
    a_dir = tmp / "a"
    a_dir.mkdir()
    return {
        "raw": raw,
        "table": table,
        "report": report,
        "a": _write(a_dir / "pipeline.yaml", [suite, pipeline_a]),
        "b": _write(tmp / "b.yaml", [pipeline_b]),
        "check": _write(tmp / "check.yaml", [standalone]),
    }


def _graph(receiver: LineageReceiver) -> dict[str, Any]:
    with urllib.request.urlopen(f"{receiver.url}/api/v1/graph", timeout=10) as response:
        graph: dict[str, Any] = json.loads(response.read())
    return graph


def _reachable(edges: set[tuple[str, str, str]], start: str) -> set[str]:
    """Nodes downstream of ``start`` along input/output edges (dataset -> job -> dataset)."""
    following: dict[str, set[str]] = {}
    for source, kind, target in edges:
        if kind in ("input", "output"):
            following.setdefault(source, set()).add(target)
    seen, queue = {start}, deque([start])
    while queue:
        for nxt in following.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def test_runs_and_validation_form_one_connected_graph(
    spark: SparkSession, tmp_path: Path, receiver: LineageReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _setup(tmp_path)
    transport = ["--lineage", receiver.url]
    assert main(["run", "-f", str(paths["a"]), *transport]) == 0, capsys.readouterr()
    assert main(["run", "-f", str(paths["b"]), *transport]) == 0, capsys.readouterr()
    assert main(["check", "-f", str(paths["check"]), "--run-id", "audit-1", *transport]) == 0
    capsys.readouterr()

    graph = _graph(receiver)
    edges = {(e["from"], e["type"], e["to"]) for e in graph["edges"]}
    raw, table, report = (f"dataset:file:{paths[k]}" for k in ("raw", "table", "report"))
    ingest, report_job = f"job:{NS}:ingest", f"job:{NS}:report"
    gate, audit = f"job:{NS}:ingest.orders-quality", f"job:{NS}:orders-audit"
    assert edges == {
        (raw, "input", ingest),
        (ingest, "output", table),
        (table, "input", report_job),  # B's file:// spelling is A's table
        (report_job, "output", report),
        (ingest, "parent", gate),  # the gate is a child run of the pipeline run
        (table, "input", gate),
        (table, "input", audit),  # the suite's path//: the same table again
    }
    assert {raw, table, report, ingest, report_job, gate, audit} == {n["id"] for n in graph["nodes"]}
    assert _reachable(edges, raw) >= {ingest, table, report_job, report, gate, audit}

    runs = {r["job"]: r for r in graph["runs"]}
    assert {job: r["state"] for job, r in runs.items()} == {
        ingest: "COMPLETE",
        report_job: "COMPLETE",
        gate: "COMPLETE",
        audit: "COMPLETE",
    }
    assert runs[gate]["parent"] == {"runId": runs[ingest]["runId"], "job": ingest}
    assert "parent" not in runs[ingest] and "parent" not in runs[audit]

    # every accepted event is what the emitters sent: START and COMPLETE of each run
    with urllib.request.urlopen(f"{receiver.url}/api/v1/events", timeout=10) as response:
        events = json.loads(response.read())
    assert sorted((e["job"]["name"], e["eventType"]) for e in events) == sorted(
        (job, state)
        for job in ("ingest", "ingest.orders-quality", "report", "orders-audit")
        for state in ("START", "COMPLETE")
    )
    gate_complete = next(
        e for e in events if e["job"]["name"] == "ingest.orders-quality" and e["eventType"] == "COMPLETE"
    )
    assertions = gate_complete["inputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"], a["column"]) for a in assertions] == [
        ("expect_column_values_to_not_be_null", True, "order_id")
    ]


def test_a_failing_gate_is_a_failed_child_run(
    spark: SparkSession, tmp_path: Path, receiver: LineageReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _setup(tmp_path)
    doc = list(yaml.safe_load_all(paths["a"].read_text()))
    doc[0]["spec"]["expectations"] = [
        {"type": "expect_column_values_to_be_in_set", "column": "country", "valueSet": ["DE"]}
    ]
    _write(paths["a"], doc)
    assert main(["run", "-f", str(paths["a"]), "--lineage", receiver.url]) == 1
    capsys.readouterr()
    runs = {r["job"]: r for r in _graph(receiver)["runs"]}
    ingest, gate = f"job:{NS}:ingest", f"job:{NS}:ingest.orders-quality"
    assert runs[ingest]["state"] == "FAIL" and runs[gate]["state"] == "FAIL"
    assert runs[gate]["parent"]["runId"] == runs[ingest]["runId"]
