"""The validation pod's program on real Spark: verdicts, anomaly checks against history, the stored
result and HTML report, lineage with quality facets, and the termination message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openlineage.client.transport.noop import NoopConfig, NoopTransport
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.dataqualitysuite import (
    DataQualitySuiteSpec,
    DataQualitySuiteStatus,
    ValidationResult,
)
from dataops.lineage.events import LineageEmitter
from dataops.lineage.validate import EventValidator
from dataops.plan.validation import build_validation_plan
from dataops.quality.summarize import compact_json, for_history
from dataops.runtime.validator import run_validation

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _write(spark: SparkSession, path: Path, rows: list[tuple[Any, ...]], schema: str) -> str:
    spark.createDataFrame(rows, schema).coalesce(1).write.mode("overwrite").parquet(str(path))
    return str(path)


def _orders(n: int, *, bad: int = 0, shift: float = 0.0, newest: datetime = NOW) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(n):
        amount = float(i % 100) + shift
        status = "weird" if i < bad else ("open" if i % 2 else "done")
        rows.append((i, amount, status, newest - timedelta(minutes=i)))
    return rows


SCHEMA = "order_id long, amount double, status string, updated_at timestamp"


def _suite(path: str, **extra: Any) -> DataQualitySuiteSpec:
    return DataQualitySuiteSpec.model_validate(
        {
            "dataset": {"path": path, "format": "parquet"},
            "expectations": [
                {"type": "expect_column_values_to_not_be_null", "column": "order_id"},
                {"type": "expect_column_values_to_be_unique", "column": "order_id"},
                {
                    "type": "expect_column_values_to_be_in_set",
                    "column": "status",
                    "valueSet": ["open", "done"],
                },
                {
                    "type": "expect_column_values_to_be_between",
                    "column": "amount",
                    "minValue": 0,
                    "maxValue": 500,
                },
                {"type": "expect_table_row_count_to_be_between", "minValue": 1, "severity": "warn"},
            ],
            **extra,
        }
    )


def _validate(
    spark: SparkSession,
    spec: DataQualitySuiteSpec,
    run_id: str,
    status: DataQualitySuiteStatus | None = None,
    lineage: LineageEmitter | None = None,
) -> ValidationResult:
    plan = build_validation_plan(name="orders-quality", namespace="sales", spec=spec, status=status)
    return run_validation(spark, plan, run_id=run_id, lineage=lineage, now=NOW).result


def _after(status: DataQualitySuiteStatus | None, result: ValidationResult) -> DataQualitySuiteStatus:
    before = status or DataQualitySuiteStatus(conditions=[])
    return before.model_copy(
        update={"last_result": result, "history": [for_history(result), *before.history]}
    )


def test_passing_and_failing_validation_store_result_and_report(
    spark: SparkSession, tmp_path: Path, lineage_validator: EventValidator
) -> None:
    path = _write(spark, tmp_path / "orders", _orders(200), SCHEMA)
    lineage = LineageEmitter(NoopTransport(NoopConfig()), job_namespace="sales", job_name="orders-quality")
    passed = _validate(spark, _suite(path), "v00000001", lineage=lineage)
    assert passed.success and passed.failed == 0 and passed.evaluated == 5 and passed.error is None
    assert passed.metrics is not None and passed.metrics.row_count == 200
    assert passed.report_path == f"{path}/_dataops_quality/v00000001/report.html"
    stored = json.loads(Path(path, "_dataops_quality/v00000001/result.json").read_text())
    assert stored["success"] is True and stored["evaluated"] == 5
    assert "PASSED" in Path(passed.report_path).read_text()
    # Spark skips the results folder: the dataset still reads as 200 rows.
    assert spark.read.parquet(path).count() == 200

    dirty = _write(spark, tmp_path / "dirty", _orders(200, bad=7), SCHEMA)
    failed = _validate(spark, _suite(dirty), "v00000002", lineage=lineage)
    assert not failed.success and failed.failed == 1
    (only,) = failed.failed_expectations
    assert only.type == "expect_column_values_to_be_in_set" and only.column == "status"
    assert only.unexpected_sample == ["weird"] * 7
    assert "7 unexpected" in (only.observed_value or "")
    html = Path(failed.report_path or "").read_text()
    assert "FAILED" in html and "weird" in html and "expect_column_values_to_be_in_set" in html

    assert [e["eventType"] for e in lineage.events] == ["START", "COMPLETE", "START", "COMPLETE"]
    complete = lineage.events[-1]
    (dataset,) = complete["inputs"]
    assertions = dataset["facets"]["dataQualityAssertions"]["assertions"]
    assert {
        "assertion": "expect_column_values_to_be_in_set",
        "success": False,
        "column": "status",
    }.items() <= (assertions[2].items())
    metrics = dataset["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == 200
    assert (
        metrics["columnMetrics"]["amount"]["min"] == 0.0 and metrics["columnMetrics"]["amount"]["max"] == 99.0
    )
    assert metrics["columnMetrics"]["order_id"]["nullCount"] == 0
    for event in lineage.events:
        assert lineage_validator.errors(event) == []


def test_unreadable_dataset_is_an_error_not_a_verdict(spark: SparkSession, tmp_path: Path) -> None:
    result = _validate(spark, _suite(str(tmp_path / "missing")), "v00000003")
    assert result.error is not None and "missing" in result.error and not result.success
    assert result.evaluated == 0


def test_anomaly_checks_compare_with_history(spark: SparkSession, tmp_path: Path) -> None:
    anomalies = {
        "anomalies": [
            {"type": "rowCountChange", "threshold": 0.3, "severity": "error"},
            {"type": "schemaDrift", "severity": "error"},
            {"type": "distributionShift", "column": "amount", "threshold": 0.3, "severity": "error"},
            {"type": "freshness", "column": "updated_at", "threshold": 3600, "severity": "error"},
        ]
    }
    status: DataQualitySuiteStatus | None = None
    for i in range(3):  # a steady history
        path = _write(spark, tmp_path / f"day{i}", _orders(200 + i), SCHEMA)
        result = _validate(spark, _suite(path, **anomalies), f"v0000001{i}", status)
        assert result.success, result.failed_expectations
        status = _after(status, result)
    assert status is not None and len(status.history) == 3

    def failed(path: str, run_id: str) -> dict[str, str]:
        result = _validate(spark, _suite(path, **anomalies), run_id, status)
        return {f.type: f.observed_value or "" for f in result.failed_expectations}

    fewer = _write(spark, tmp_path / "fewer", _orders(100), SCHEMA)
    assert set(failed(fewer, "v00000020")) == {"anomaly:rowCountChange"}
    shifted = _write(spark, tmp_path / "shifted", _orders(200, shift=60.0), SCHEMA)
    assert set(failed(shifted, "v00000021")) == {"anomaly:distributionShift"}
    stale = _write(spark, tmp_path / "stale", _orders(200, newest=NOW - timedelta(hours=3)), SCHEMA)
    assert set(failed(stale, "v00000022")) == {"anomaly:freshness"}
    retyped = _write(
        spark, tmp_path / "retyped", _orders(200), SCHEMA.replace("amount double", "amount float")
    )
    drift = failed(retyped, "v00000023")
    assert set(drift) == {"anomaly:schemaDrift"}
    assert "amount:double->float" in drift["anomaly:schemaDrift"]


def test_termination_message_fits_and_round_trips(spark: SparkSession, tmp_path: Path) -> None:
    path = _write(spark, tmp_path / "orders", [(i, 1e6, "x" * 200, NOW) for i in range(50)], SCHEMA)
    many = [
        {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": [f"v{i}"]}
        for i in range(40)
    ]
    spec = DataQualitySuiteSpec.model_validate({"dataset": {"path": path}, "expectations": many})
    result = _validate(spark, spec, "v00000030")
    assert result.failed == 40
    text = compact_json(result)
    assert len(text.encode()) <= 3900
    parsed = ValidationResult.model_validate_json(text)
    assert parsed.run_id == "v00000030" and parsed.failed == 40 and not parsed.success


def test_classified_columns_keep_their_values_out_of_a_standalone_validation(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The namespace's DataPolicies classify `status` (planted values) and `amount`: the stored
    result, the HTML report, the status the operator records and the lineage event show counts but
    no value of either; the same run without the classification shows them (the control)."""
    from dataops.api.v1alpha1.datapolicy import PiiColumn
    from dataops.plan.validation import ValidationPlan

    rows = _orders(200, bad=7)
    rows = [(i, a, "planted.secret@leak.test" if s == "weird" else s, t) for i, a, s, t in rows]
    path = _write(spark, tmp_path / "orders", rows, SCHEMA)
    suite = _suite(path)
    pii = [
        PiiColumn.model_validate({"column": "STATUS", "classification": "email"}),  # names are case-blind
        PiiColumn.model_validate({"column": "amo.*", "pattern": True, "classification": "other"}),
    ]

    def run(plan: ValidationPlan, run_id: str) -> tuple[str, str, str]:
        lineage = LineageEmitter(NoopTransport(NoopConfig()), job_namespace="sales", job_name="q")
        done = run_validation(spark, plan, run_id=run_id, lineage=lineage, now=NOW)
        stored = Path(path, f"_dataops_quality/{run_id}/result.json").read_text()
        html = Path(path, f"_dataops_quality/{run_id}/report.html").read_text()
        status = json.dumps(done.result.to_json()) + compact_json(done.result)
        return stored + status, html, json.dumps(lineage.events)

    protected = build_validation_plan(
        name="orders-quality", namespace="sales", spec=suite, status=None, pii_columns=pii
    )
    stored, html, events = run(protected, "v00000011")
    for text in (stored, html, events):
        assert "planted.secret@leak.test" not in text
    result = json.loads(stored[: stored.index("}{") + 1] if "}{" in stored else stored)
    assert result["failed"] == 1 and "7 unexpected" in json.dumps(result)  # the verdict stays
    metrics = json.loads(events)[-1]["inputs"][0]["inputFacets"]["dataQualityMetrics"]["columnMetrics"]
    amount = metrics["amount"]  # no min, max, sum or quantile of a classified column
    assert not {"min", "max", "sum"} & set(amount) and not amount.get("quantiles"), amount
    assert amount["count"] == 200 and {"min", "max"} <= set(metrics["order_id"])

    plain = build_validation_plan(name="orders-quality", namespace="sales", spec=suite, status=None)
    stored, html, events = run(plain, "v00000012")
    assert "planted.secret@leak.test" in stored and "planted.secret@leak.test" in html
