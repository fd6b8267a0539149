"""The Spark runtime with real PySpark on generated data; results checked against plain Python."""

from __future__ import annotations

import csv
import random
import sqlite3
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline, QualityGate
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.lineage.validate import EventValidator
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import execute_plan
from dataops.runtime.summary import RunSummary

COUNTRIES = ["DE", "FR", "NL", "US", "JP"]


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Any]:
    rng = random.Random(42)
    customers = [[i, f"c{i}@example.com", COUNTRIES[rng.randrange(5)]] for i in range(1, 201)]
    orders = [
        [
            10_000 + i,
            rng.randint(1, 220),
            round(rng.uniform(1, 900), 2),
            rng.choice(["completed", "cancelled"]),
        ]
        for i in range(5_000)
    ]
    _write_csv(tmp_path / "customers.csv", ["customer_id", "email", "country"], customers)
    _write_csv(tmp_path / "orders.csv", ["order_id", "customer_id", "amount", "status"], orders)
    return {"dir": tmp_path, "customers": customers, "orders": orders}


def _pipeline(
    tmp: Path,
    *,
    sinks: list[dict[str, Any]] | None = None,
    transforms: list[dict[str, Any]] | None = None,
    sources: list[dict[str, Any]] | None = None,
) -> DataPipeline:
    csv_options = {"header": "true", "inferSchema": "true"}
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "revenue", "namespace": "test"},
            "spec": {
                "sources": sources
                or [
                    {
                        "name": "orders",
                        "file": {"path": str(tmp / "orders.csv"), "format": "csv", "options": csv_options},
                    },
                    {
                        "name": "customers",
                        "file": {"path": str(tmp / "customers.csv"), "format": "csv", "options": csv_options},
                    },
                ],
                "transforms": transforms
                if transforms is not None
                else [
                    {"name": "completed", "sql": "SELECT * FROM orders WHERE status = 'completed'"},
                    {
                        "name": "by_country",
                        "sql": (
                            "SELECT c.country, count(*) AS orders, round(sum(o.amount), 2) AS revenue "
                            "FROM completed o JOIN customers c ON o.customer_id = c.customer_id "
                            "GROUP BY c.country"
                        ),
                    },
                ],
                "sinks": sinks
                or [{"name": "out", "from": "by_country", "path": str(tmp / "out"), "mode": "overwrite"}],
            },
        }
    )


def _run(
    spark: SparkSession, pipeline: DataPipeline, run_id: str = "r1"
) -> tuple[RunSummary, LineageEmitter]:
    plan = build_run_plan(name=pipeline.metadata.name, namespace="test", spec=pipeline.spec)
    lineage = LineageEmitter(
        make_transport("none"),
        job_namespace="test",
        job_name=pipeline.metadata.name,
        sql=";".join(s.sql for s in plan.steps),
    )
    return execute_plan(spark, plan, run_id=run_id, lineage=lineage), lineage


def test_join_aggregate_matches_plain_python(
    spark: SparkSession, data: dict[str, Any], lineage_validator: EventValidator
) -> None:
    summary, lineage = _run(spark, _pipeline(data["dir"]))
    assert summary.outcome == "Succeeded", summary.error

    country = {c[0]: c[2] for c in data["customers"]}
    expected: dict[str, list[float]] = defaultdict(list)
    for _, customer, amount, status in data["orders"]:
        if status == "completed" and customer in country:
            expected[country[customer]].append(amount)
    rows = spark.read.parquet(str(data["dir"] / "out")).collect()
    got = {r["country"]: (r["orders"], r["revenue"]) for r in rows}
    assert got == {k: (len(v), round(sum(v), 2)) for k, v in expected.items()}

    assert summary.rows_read == {"orders": len(data["orders"]), "customers": len(data["customers"])}
    assert summary.rows_written == {"out": len(expected)}

    start, complete = lineage.events
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    for event in lineage.events:
        assert lineage_validator.errors(event) == []
    output = complete["outputs"][0]
    assert output["namespace"] == "file" and output["name"] == str(data["dir"] / "out")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == len(expected)
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == ["country", "orders", "revenue"]
    columns = output["facets"]["columnLineage"]["fields"]
    assert [(f["name"], f["field"]) for f in columns["revenue"]["inputFields"]] == [
        (str(data["dir"] / "orders.csv"), "amount")
    ]
    assert [(f["name"], f["field"]) for f in columns["country"]["inputFields"]] == [
        (str(data["dir"] / "customers.csv"), "country")
    ]
    assert {i["name"] for i in complete["inputs"]} == {
        str(data["dir"] / "orders.csv"),
        str(data["dir"] / "customers.csv"),
    }
    assert start["run"]["runId"] == complete["run"]["runId"]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_merge_upserts_and_reruns_are_idempotent(spark: SparkSession, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "customers_latest"
    batch = tmp_path / "batch.csv"
    sink = {
        "name": "latest",
        "from": "updates",
        "format": fmt,
        "path": str(target),
        "mode": "merge",
        "mergeKeys": ["id"],
    }
    source = [
        {
            "name": "updates",
            "file": {
                "path": str(batch),
                "format": "csv",
                "options": {"header": "true", "inferSchema": "true"},
            },
        }
    ]

    _write_csv(batch, ["id", "tier"], [[1, "bronze"], [2, "bronze"], [3, "silver"]])
    pipeline = _pipeline(tmp_path, sources=source, transforms=[], sinks=[sink])
    assert _run(spark, pipeline)[0].outcome == "Succeeded"

    _write_csv(batch, ["id", "tier"], [[2, "gold"], [4, "bronze"]])
    for attempt in range(2):  # the second run of the same batch must change nothing
        summary, _ = _run(spark, pipeline, run_id=f"r{attempt}")
        assert summary.outcome == "Succeeded", summary.error
        assert summary.rows_written == {"latest": 2}
        rows = spark.read.format(fmt).load(str(target)).collect()
        assert sorted((r["id"], r["tier"]) for r in rows) == [
            (1, "bronze"),
            (2, "gold"),
            (3, "silver"),
            (4, "bronze"),
        ]


def test_overwrite_rerun_does_not_duplicate(spark: SparkSession, data: dict[str, Any]) -> None:
    pipeline = _pipeline(data["dir"])
    _run(spark, pipeline)
    first = spark.read.parquet(str(data["dir"] / "out")).count()
    _run(spark, pipeline, run_id="r2")
    assert spark.read.parquet(str(data["dir"] / "out")).count() == first


def test_partitioned_append(spark: SparkSession, data: dict[str, Any]) -> None:
    sink = {
        "name": "raw",
        "from": "completed",
        "path": str(data["dir"] / "raw"),
        "mode": "append",
        "partitionBy": ["status"],
    }
    pipeline = _pipeline(data["dir"], sinks=[sink])
    summary, _ = _run(spark, pipeline)
    assert summary.outcome == "Succeeded"
    assert [p.name for p in (data["dir"] / "raw").iterdir() if p.is_dir()] == ["status=completed"]
    completed = sum(1 for o in data["orders"] if o[3] == "completed")
    assert summary.rows_written == {"raw": completed}
    _run(spark, pipeline, run_id="r2")
    assert spark.read.parquet(str(data["dir"] / "raw")).count() == 2 * completed


def test_bad_sql_names_the_step(
    spark: SparkSession, data: dict[str, Any], lineage_validator: EventValidator
) -> None:
    transforms = [{"name": "completed", "sql": "SELECT amount, no_such_column FROM orders"}]
    sinks = [{"name": "out", "from": "completed", "path": str(data["dir"] / "x")}]
    summary, lineage = _run(spark, _pipeline(data["dir"], transforms=transforms, sinks=sinks))
    assert summary.outcome == "Failed"
    assert summary.error is not None and summary.error.startswith("step 'completed':")
    assert "no_such_column" in summary.error
    assert [e["eventType"] for e in lineage.events] == ["START", "FAIL"]
    assert lineage.events[1]["run"]["facets"]["errorMessage"]["message"] == summary.error
    assert lineage_validator.errors(lineage.events[1]) == []

    syntax = [{"name": "completed", "sql": "SELEC amount FROM orders"}]
    summary, _ = _run(spark, _pipeline(data["dir"], transforms=syntax, sinks=sinks))
    assert summary.error is not None and summary.error.startswith("step 'completed':")


def test_missing_input_path_names_the_source(spark: SparkSession, tmp_path: Path) -> None:
    summary, _ = _run(spark, _pipeline(tmp_path / "nowhere"))
    assert summary.outcome == "Failed"
    assert summary.error is not None and summary.error.startswith("source 'orders':")
    assert "does not exist" in summary.error


def test_schema_mismatch_at_the_sink(spark: SparkSession, data: dict[str, Any]) -> None:
    target = data["dir"] / "typed"
    spark.createDataFrame(
        [("DE", "many", 1.0)], "country string, orders string, revenue double"
    ).write.parquet(str(target))
    sinks = [{"name": "typed", "from": "by_country", "path": str(target), "mode": "append"}]
    summary, _ = _run(spark, _pipeline(data["dir"], sinks=sinks))
    assert summary.outcome == "Failed"
    assert summary.error is not None
    assert summary.error.startswith("sink 'typed': schema mismatch")
    assert "'orders' is bigint in the output but string in the target" in summary.error
    assert spark.read.parquet(str(target)).count() == 1  # nothing was appended


def test_jdbc_source(spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (id INTEGER, price REAL)")
        conn.executemany("INSERT INTO items VALUES (?, ?)", [(i, i * 1.5) for i in range(1, 101)])
    monkeypatch.setenv("DATAOPS_SECRET_DB_USER", "reader")
    sources = [
        {
            "name": "items",
            "jdbc": {
                "url": f"jdbc:sqlite:{db}",
                "table": "items",
                "driver": "org.sqlite.JDBC",
                "credentials": {"userSecretRef": {"name": "db", "key": "user"}},
            },
        }
    ]
    transforms = [{"name": "expensive", "sql": "SELECT id, price FROM items WHERE price > 100"}]
    sinks = [{"name": "out", "from": "expensive", "path": str(tmp_path / "out")}]
    summary, lineage = _run(spark, _pipeline(tmp_path, sources=sources, transforms=transforms, sinks=sinks))
    assert summary.outcome == "Succeeded", summary.error
    expensive = sum(1 for i in range(1, 101) if i * 1.5 > 100)
    # The filter is pushed into the database's query: only matching rows are read over JDBC.
    assert summary.rows_read == {"items": expensive}
    assert summary.rows_written == {"out": expensive}
    assert lineage.events[0]["inputs"][0]["namespace"] == f"sqlite:{db}"


def test_missing_secret_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    sources = [
        {
            "name": "items",
            "jdbc": {
                "url": "jdbc:sqlite:/nope.db",
                "table": "items",
                "credentials": {"passwordSecretRef": {"name": "db", "key": "pw"}},
            },
        }
    ]
    sinks = [{"name": "out", "from": "items", "path": str(tmp_path / "out")}]
    summary, _ = _run(spark, _pipeline(tmp_path, sources=sources, transforms=[], sinks=sinks))
    assert summary.outcome == "Failed"
    assert (
        summary.error == "source 'items': secret db/pw is not available (expected env DATAOPS_SECRET_DB_PW)"
    )


def _gated(
    spark: SparkSession, data: dict[str, Any], action: str, max_amount: float
) -> tuple[RunSummary, Path]:
    from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
    from dataops.quality.gate import SuiteGateRunner

    pipeline = _pipeline(data["dir"])
    pipeline.spec.quality_gates = [
        QualityGate.model_validate(
            {"suiteRef": {"name": "amounts"}, "dataset": "completed", "action": action}
        )
    ]
    suite = DataQualitySuiteSpec.model_validate(
        {
            "expectations": [
                {
                    "type": "expect_column_values_to_be_between",
                    "column": "amount",
                    "minValue": 0,
                    "maxValue": max_amount,
                },
                {"type": "expect_column_values_to_not_be_null", "column": "order_id"},
            ]
        }
    )
    plan = build_run_plan(name="revenue", namespace="test", spec=pipeline.spec)
    lineage = LineageEmitter(make_transport("none"), job_namespace="test", job_name="revenue")
    summary = execute_plan(
        spark, plan, run_id="g1", lineage=lineage, gate_runner=SuiteGateRunner({"amounts": suite})
    )
    return summary, data["dir"] / "out", lineage


def test_blocking_gate_keeps_bad_data_out(spark: SparkSession, data: dict[str, Any]) -> None:
    summary, out, lineage = _gated(spark, data, "block", max_amount=500)
    assert summary.outcome == "Failed"
    assertions = lineage.events[-1]["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"]
    assert [(a["assertion"], a["success"]) for a in assertions] == [
        ("expect_column_values_to_be_between", False),
        ("expect_column_values_to_not_be_null", True),
    ]
    assert summary.error is not None
    assert summary.error.startswith(
        "quality gate 'amounts on completed': 1 expectation(s) failed, nothing was written"
    )
    assert "expect_column_values_to_be_between(amount)" in summary.error
    assert not out.exists()


def test_passing_and_warning_gates_publish(
    spark: SparkSession, data: dict[str, Any], lineage_validator: EventValidator
) -> None:
    summary, out, lineage = _gated(spark, data, "block", max_amount=1000)
    assert summary.outcome == "Succeeded" and summary.warnings == []
    assert out.exists()
    complete = lineage.events[-1]
    assert lineage_validator.errors(complete) == []
    assert all(a["success"] for a in complete["outputs"][0]["facets"]["dataQualityAssertions"]["assertions"])
    summary, _, _ = _gated(spark, data, "warn", max_amount=500)
    assert summary.outcome == "Succeeded"
    assert summary.warnings and "expect_column_values_to_be_between(amount)" in summary.warnings[0]
