"""What a failed run leaves published: an overwrite that fails mid-write keeps the old data (it is
written beside the target and swapped in), and a run whose later sink fails says exactly which
sinks it published before the failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import execute_plan
from dataops.runtime.summary import RunSummary


def _pipeline(tmp: Path, sql: str, sinks: list[dict[str, Any]]) -> DataPipeline:
    (tmp / "ids.csv").write_text("id\n" + "".join(f"{i}\n" for i in range(1, 101)))
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "atomic", "namespace": "test"},
            "spec": {
                "sources": [
                    {
                        "name": "ids",
                        "file": {
                            "path": str(tmp / "ids.csv"),
                            "format": "csv",
                            "schema": [{"name": "id", "type": "int"}],
                            "options": {"header": "true"},
                        },
                    }
                ],
                "transforms": [{"name": "out", "sql": sql}],
                "sinks": sinks,
            },
        }
    )


def _ids(spark: SparkSession, fmt: str, path: Path) -> list[int]:
    rows = spark.read.format(fmt).load(str(path)).collect()
    return sorted(int(r[0]) if fmt == "csv" else r["id"] for r in rows)  # csv sinks have no header


def _run(spark: SparkSession, pipeline: DataPipeline, run_id: str) -> RunSummary:
    plan = build_run_plan(name="atomic", namespace="test", spec=pipeline.spec)
    return execute_plan(spark, plan, run_id=run_id, lineage=None)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_a_failed_overwrite_keeps_the_old_data(spark: SparkSession, tmp_path: Path, fmt: str) -> None:
    sink = {
        "name": "target",
        "from": "out",
        "format": fmt,
        "path": str(tmp_path / "target"),
        "mode": "overwrite",
    }
    good = _pipeline(tmp_path, "SELECT id, id * 2 AS doubled FROM ids", [sink])
    assert _run(spark, good, "r1").outcome == "Succeeded"
    before = _ids(spark, fmt, tmp_path / "target")
    assert len(before) == 100

    # fails while the rows are written (row 77 raises), after some tasks may have written files
    failing = _pipeline(
        tmp_path,
        "SELECT id, CASE WHEN id = 77 THEN raise_error('boom') ELSE id * 3 END AS doubled FROM ids",
        [sink],
    )
    summary = _run(spark, failing, "r2")
    assert summary.outcome == "Failed"
    assert summary.error is not None and summary.error.startswith("sink 'target': ")
    assert summary.published == []
    after = _ids(spark, fmt, tmp_path / "target")
    assert after == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("target") and p.name != "target"]
    assert leftovers == []


def test_a_failing_third_sink_reports_what_was_published(spark: SparkSession, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the third sink's parent folder should be")
    sinks = [
        {"name": "first", "from": "out", "path": str(tmp_path / "first")},
        {"name": "second", "from": "out", "format": "delta", "path": str(tmp_path / "second")},
        {"name": "third", "from": "out", "path": str(blocker / "third")},
    ]
    summary = _run(spark, _pipeline(tmp_path, "SELECT id FROM ids", sinks), "r1")
    assert summary.outcome == "Failed"
    assert summary.error is not None and summary.error.startswith("sink 'third': ")
    assert summary.published == ["first", "second"]
    assert (
        "published before the failure (not rolled back): first, second; not published: third"
        in summary.warnings
    )
    assert summary.to_json()["published"] == ["first", "second"]
