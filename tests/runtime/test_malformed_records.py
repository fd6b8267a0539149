"""Malformed csv/json records: the default fails the run before anything is written; Drop and
Quarantine skip them, count them in the summary and lineage, and the answers exclude them.

The expected revenue is computed by plain Python from the rows the test planted as well-formed."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.lineage.validate import EventValidator
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import execute_plan
from dataops.runtime.summary import RunSummary

GOOD = [(i, ["DE", "FR", "NL"][i % 3], i % 5 + 1, round(10 + i * 1.5, 2)) for i in range(1, 41)]
BROKEN = [
    "41,DE,2,10.0,surplus",  # an extra field
    "42,FR,two,11.0",  # a quantity that is not a number
    "43,NL",  # fields missing
    "44,DE,1,not-a-price",  # a price that is not a number
]
SCHEMA = [
    {"name": "order_id", "type": "int"},
    {"name": "country", "type": "string"},
    {"name": "quantity", "type": "int"},
    {"name": "price", "type": "double"},
]


def _orders_csv(folder: Path) -> Path:
    path = folder / "orders.csv"
    lines = ["order_id,country,quantity,price", *(",".join(map(str, row)) for row in GOOD)]
    lines[10:10] = BROKEN[:2]
    lines += BROKEN[2:]
    path.write_text("\n".join(lines) + "\n")
    return path


def _expected_revenue() -> dict[str, float]:
    revenue: dict[str, float] = defaultdict(float)
    for _, country, quantity, price in GOOD:
        revenue[country] += quantity * price
    return {k: round(v, 2) for k, v in revenue.items()}


def _pipeline(tmp: Path, source_file: dict[str, Any]) -> DataPipeline:
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "malformed", "namespace": "test"},
            "spec": {
                "sources": [{"name": "orders", "file": source_file}],
                "transforms": [
                    {
                        "name": "revenue",
                        "sql": "SELECT country, round(sum(quantity * price), 2) AS revenue "
                        "FROM orders GROUP BY country",
                    }
                ],
                "sinks": [{"name": "out", "from": "revenue", "path": str(tmp / "out")}],
            },
        }
    )


def _run(spark: SparkSession, pipeline: DataPipeline) -> tuple[RunSummary, LineageEmitter]:
    plan = build_run_plan(name="malformed", namespace="test", spec=pipeline.spec)
    lineage = LineageEmitter(make_transport("none"), job_namespace="test", job_name="malformed")
    return execute_plan(spark, plan, run_id="r1", lineage=lineage), lineage


def _revenue(spark: SparkSession, tmp: Path) -> dict[str, float]:
    return {r["country"]: r["revenue"] for r in spark.read.parquet(str(tmp / "out")).collect()}


@pytest.mark.parametrize("declared", [True, False], ids=["declared-schema", "inferred-schema"])
def test_the_default_fails_before_anything_is_written(
    spark: SparkSession, tmp_path: Path, declared: bool
) -> None:
    csv = _orders_csv(tmp_path)
    source: dict[str, Any] = {"path": str(csv), "format": "csv", "options": {"header": "true"}}
    if declared:
        source["schema"] = SCHEMA
    else:
        source["options"]["inferSchema"] = "true"
    summary, _ = _run(spark, _pipeline(tmp_path, source))
    assert summary.outcome == "Failed"
    assert summary.error is not None
    # an inferred schema takes "two" and "not-a-price" for strings: only the field counts are wrong
    count = 4 if declared else 2
    assert summary.error.startswith(
        f"source 'orders': {count} malformed record(s) (not parsable against the "
    )
    assert "orders.csv" in summary.error and "onMalformed" in summary.error
    assert "surplus" not in summary.error  # never the record itself
    assert not (tmp_path / "out").exists()
    assert summary.malformed == {"orders": {"policy": "Fail", "rows": count}}


def test_drop_skips_and_counts(
    spark: SparkSession, tmp_path: Path, lineage_validator: EventValidator
) -> None:
    csv = _orders_csv(tmp_path)
    source = {"path": str(csv), "format": "csv", "options": {"header": "true"}, "schema": SCHEMA}
    summary, lineage = _run(spark, _pipeline(tmp_path, {**source, "onMalformed": "Drop"}))
    assert summary.outcome == "Succeeded", summary.error
    assert _revenue(spark, tmp_path) == _expected_revenue()
    assert summary.malformed == {"orders": {"policy": "Drop", "rows": 4}}
    assert "source orders: 4 malformed record(s) dropped" in summary.warnings
    assert "malformed: orders: 4 record(s) (onMalformed: Drop)" in summary.render_table()
    assert summary.rows_read == {"orders": len(GOOD) + len(BROKEN)}
    complete = lineage.events[-1]
    for event in lineage.events:
        assert lineage_validator.errors(event) == []
    (orders,) = complete["inputs"]
    assert orders["inputFacets"]["dataopsMalformedRecords"]["rows"] == 4
    assert orders["inputFacets"]["dataopsMalformedRecords"]["policy"] == "Drop"


def test_quarantine_writes_the_records_with_their_file(spark: SparkSession, tmp_path: Path) -> None:
    csv = _orders_csv(tmp_path)
    quarantine = tmp_path / "bad"
    source = {
        "path": str(csv),
        "format": "csv",
        "options": {"header": "true"},
        "schema": SCHEMA,
        "onMalformed": "Quarantine",
        "quarantinePath": str(quarantine),
    }
    summary, _ = _run(spark, _pipeline(tmp_path, source))
    assert summary.outcome == "Succeeded", summary.error
    assert _revenue(spark, tmp_path) == _expected_revenue()
    where = f"{quarantine}/r1"
    assert summary.malformed == {"orders": {"policy": "Quarantine", "rows": 4, "quarantine": where}}
    records = [
        json.loads(line) for f in Path(where).glob("part-*.json") for line in f.read_text().splitlines()
    ]
    assert sorted(r["record"] for r in records) == sorted(BROKEN)
    assert {r["source"] for r in records} == {"orders"}
    assert all(r["file"].endswith("orders.csv") for r in records)


def test_json_lines_that_are_not_records(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    good = [dict(zip(("order_id", "country", "quantity", "price"), row, strict=True)) for row in GOOD]
    lines = [json.dumps(r) for r in good]
    lines[5:5] = [
        '{"order_id": 41, "country": "DE", "quantity": "lots", "price": 1.0}',
        "{not json",
        "[1, 2]",
    ]
    path.write_text("\n".join(lines) + "\n")
    source = {"path": str(path), "format": "json", "schema": SCHEMA, "onMalformed": "Drop"}
    summary, _ = _run(spark, _pipeline(tmp_path, source))
    assert summary.outcome == "Succeeded", summary.error
    assert summary.malformed["orders"]["rows"] == 3
    assert _revenue(spark, tmp_path) == _expected_revenue()


def test_a_clean_source_reports_zero_and_reads_every_row(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,country,quantity,price\n" + "".join(",".join(map(str, r)) + "\n" for r in GOOD))
    source = {"path": str(path), "format": "csv", "options": {"header": "true"}, "schema": SCHEMA}
    summary, _ = _run(spark, _pipeline(tmp_path, source))
    assert summary.outcome == "Succeeded", summary.error
    assert summary.malformed == {"orders": {"policy": "Fail", "rows": 0}}
    assert summary.rows_read == {"orders": len(GOOD)}
    assert _revenue(spark, tmp_path) == _expected_revenue()


def test_lookup_sources_of_streaming_jobs_are_checked_but_not_frozen(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A streaming job's static source is re-read every micro-batch: checked once, never cached."""
    from dataops.api.v1alpha1.datapipeline import Source
    from dataops.runtime.errors import SourceError
    from dataops.runtime.io import read_source
    from dataops.runtime.malformed import MalformedCounts

    path = tmp_path / "countries.csv"
    path.write_text("code,name\nDE,Germany\n")
    source = Source.model_validate(
        {"name": "countries", "file": {"path": str(path), "format": "csv", "options": {"header": "true"}}}
    )
    counts = MalformedCounts()
    lookup = read_source(spark, source, counts, keep_cached=False)
    assert [r["code"] for r in lookup.collect()] == ["DE"]
    path.write_text("code,name\nDE,Germany\nFR,France\n")
    assert sorted(r["code"] for r in lookup.collect()) == ["DE", "FR"]
    assert counts._cached == []

    path.write_text("code,name\nDE,Germany,extra\n")
    with pytest.raises(SourceError, match=r"^source 'countries': 1 malformed record"):
        read_source(spark, source, MalformedCounts(), keep_cached=False)
