"""Governance at run time with real Spark: PII detection (profile, suite check, unclassified
columns of a run), retention of Delta and partitioned file sinks, SQL steps refused before Spark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline, Sink
from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.lineage.validate import EventValidator
from dataops.plan.runplan import build_run_plan
from dataops.quality import gx_engine, single_pass
from dataops.quality.pii import detect
from dataops.runtime import retention
from dataops.runtime.spark_job import execute_plan
from tests.conftest import ROOT

PERSONAL = {
    "email": ["alice@example.com", "bob.smith+x@mail.co.uk", "c@d.org"],
    "phone": ["+14155550123", "(415) 555-0123", "+44 20 7946 0958"],
    "creditCard": ["4111 1111 1111 1111", "378282246310005", "5555555555554444"],
    "bankAccount": ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"],
    "ipAddress": ["192.168.0.1", "2001:db8::1", "fe80:0:0:0:200:f8ff:fe21:67cf"],
    "nationalId": ["123-45-6789", "AB123456C", "12345678Z"],
}
LOOKALIKES = {  # wrong check digits, dates, versions, times: not personal data
    "card_bad_luhn": ["4111111111111112", "1234567812345678", "4000 0000 0000 0001"],
    "iban_bad_check": ["DE89 3704 0044 0532 0130 01", "GB82WEST12345698765433", "XX00 1234"],
    "dates": ["2024-01-01", "05.11.2024", "2024-12-31"],
    "versions": ["1.2.3", "10.0", "256.1.1.1"],
    "times": ["12:30:45", "00:00", "23:59:59"],
    "ssn_invalid": ["000-12-3456", "666-12-3456", "123-00-6789"],
    "words": ["hello", "world", "nope"],
}


def _frame(spark: SparkSession, columns: dict[str, list[str]]) -> Any:
    names = list(columns)
    rows = list(zip(*columns.values(), strict=True))
    return spark.createDataFrame(rows, ", ".join(f"`{n}` string" for n in names))


def test_detectors_find_each_classification_and_skip_lookalikes(spark: SparkSession) -> None:
    found = detect(_frame(spark, {**PERSONAL, **LOOKALIKES}))
    assert {d.column: d.classification.value for d in found} == {k: k for k in PERSONAL}
    assert all(d.ratio == 1.0 and d.sampled == 3 for d in found)


def test_threshold_and_bounded_sample(spark: SparkSession) -> None:
    df = _frame(spark, {"mixed": ["a@b.com", "c@d.com", "no", "", None]})  # 2 of 3 non-empty values
    assert detect(df, threshold=0.8) == []
    [found] = detect(df, threshold=0.6)
    assert (found.column, found.ratio, found.sampled) == ("mixed", 0.6667, 3)
    assert detect(df, sample_rows=1)[0].sampled == 1


def test_profile_prints_pii_columns_without_values(tmp_path: Path, spark: SparkSession) -> None:
    """Neither the suite (stdout) nor the report (stderr) holds a value of a column that looks like
    personal data or that a DataPolicy given with -f classifies; other columns keep their value sets."""
    data = tmp_path / "people"
    nicknames = ["Zorblax Quuxworth", "Fizzbin Wobbleton", "Gronk Plimsoll"]  # PII only by policy
    salaries = [98765.25, 12345.5, 55555.75]
    people = _frame(
        spark,
        {
            "contact": PERSONAL["email"],
            "card": PERSONAL["creditCard"],
            "x": LOOKALIKES["words"],
            "nick_name": nicknames,
        },
    )
    people = people.join(
        spark.createDataFrame(list(zip(nicknames, salaries, strict=True)), "nick_name string, salary double"),
        "nick_name",
    )
    people.coalesce(1).write.parquet(str(data))
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "hr"},
        "spec": {
            "piiColumns": [
                {"column": ".*_NAME", "pattern": True, "classification": "name", "masking": "redact"},
                {"column": "Salary", "classification": "other", "masking": "nullify"},
            ]
        },
    }
    (tmp_path / "policy.yaml").write_text(json.dumps(policy))
    command = [sys.executable, "-m", "dataops.cli", "profile", "--path", str(data), "--master", "local[1]"]
    result = subprocess.run(
        [*command, "-f", str(tmp_path / "policy.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "operator")},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "piiColumns" not in result.stdout  # stdout stays one manifest for kubectl apply
    pii_doc = result.stderr.split("# personal data:")[1]
    assert "- column: contact\n  classification: email\n  masking: hash" in pii_doc
    assert "- column: card\n  classification: creditCard\n  masking: redact" in pii_doc
    assert "column: x" not in pii_doc
    values = PERSONAL["email"] + PERSONAL["creditCard"] + nicknames + [str(s) for s in salaries]
    for value in values:  # names, classifications and ratios only, in the suite and in the report
        assert value not in result.stdout and value not in result.stderr, value
    suite = yaml.safe_load(result.stdout)
    by_column: dict[str, set[str]] = {}
    for expectation in suite["spec"]["expectations"]:
        by_column.setdefault(expectation.get("column", ""), set()).add(expectation["type"])
    assert "expect_column_values_to_be_in_set" in by_column["x"]  # values of other columns stay
    for column in ("contact", "card", "nick_name", "salary"):
        assert "expect_column_values_to_not_be_null" in by_column[column]
        assert not by_column[column] & {
            "expect_column_values_to_be_in_set",
            "expect_column_values_to_be_between",
        }
    assert "no value sets or ranges of" in result.stderr


def _expectation(**fields: Any) -> Expectation:
    return Expectation.model_validate({"type": "expect_column_values_to_not_contain_pii", **fields})


def test_pii_expectation_fails_on_personal_data_and_reports_no_values(spark: SparkSession) -> None:
    df = _frame(spark, {"contact": ["ok", "alice@example.com", "fine"], "ip": PERSONAL["ipAddress"]})
    strict, mostly, only_phone, clean_ip = single_pass.validate(
        df,
        [
            _expectation(column="contact"),
            _expectation(column="contact", mostly=0.6),
            _expectation(column="contact", classifications=["phone"]),
            _expectation(column="ip", classifications=["email"]),
        ],
    )
    assert not strict.success and strict.unexpected_count == 1 and strict.unexpected_sample == []
    assert mostly.success and only_phone.success and clean_ip.success
    # the Great Expectations engine (and a row condition) route it to the same detector
    [gx_outcome] = gx_engine.validate(df, [_expectation(column="ip", rowCondition="ip like '192%'")])
    assert not gx_outcome.success and gx_outcome.unexpected_count == 1 and gx_outcome.unexpected_sample == []


def _pipeline(tmp_path: Path, sink: dict[str, Any], sql: str = "SELECT * FROM people") -> DataPipeline:
    src = tmp_path / "people.json"
    src.write_text(
        "\n".join(
            json.dumps({"id": i, "contact": f"user{i}@example.com", "card": "4111111111111111", "d": d})
            for i, d in enumerate(["2000-01-01", "2000-01-02", str(date.today())])
        )
    )
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "gov", "namespace": "t"},
            "spec": {
                "sources": [{"name": "people", "file": {"path": str(src), "format": "json"}}],
                "transforms": [{"name": "out", "sql": sql}],
                "sinks": [{"name": "sink", "from": "out", **sink}],
            },
        }
    )


def _execute(
    spark: SparkSession,
    pipeline: DataPipeline,
    *,
    pii: list[dict[str, Any]] | None = None,
    events: Path | None = None,
) -> Any:
    plan = build_run_plan(
        name="gov",
        namespace="t",
        spec=pipeline.spec,
        pii_columns=[PiiColumn.model_validate(p) for p in pii or []],
    )
    lineage = LineageEmitter(
        make_transport(f"file:{events}" if events else "none"), job_namespace="t", job_name="gov"
    )
    return execute_plan(spark, plan, run_id="r1", lineage=lineage)


def test_run_warns_about_unclassified_personal_data_only(spark: SparkSession, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, {"path": str(tmp_path / "o1")})
    summary = _execute(spark, pipeline, pii=[{"column": "con.*", "pattern": True, "classification": "email"}])
    assert summary.outcome == "Succeeded", summary.error
    assert summary.unclassified_pii == [
        {"sink": "sink", "column": "card", "classification": "creditCard", "ratio": 1.0}
    ]
    text = json.dumps(summary.to_json()) + summary.render_table()
    assert "4111111111111111" not in text and "example.com" not in text
    classified = _execute(
        spark,
        _pipeline(tmp_path, {"path": str(tmp_path / "o2")}),
        pii=[
            {"column": "contact", "classification": "email"},
            {"column": "card", "classification": "creditCard", "masking": "redact"},
        ],
    )
    assert classified.unclassified_pii == [] and classified.warnings == []


def test_sql_commands_are_refused_before_spark_runs_them(spark: SparkSession, tmp_path: Path) -> None:
    before = spark.conf.get("spark.sql.shuffle.partitions")
    pipeline = _pipeline(tmp_path, {"path": str(tmp_path / "o3")}, sql="SELECT * FROM people")
    pipeline.spec.transforms[0].sql = "SET spark.sql.shuffle.partitions=3"
    summary = _execute(spark, pipeline)
    assert summary.outcome == "Failed"
    assert summary.error.startswith("step 'out': SQL is SET")
    assert spark.conf.get("spark.sql.shuffle.partitions") == before  # the command never ran
    target = tmp_path / "escaped"
    pipeline.spec.transforms[0].sql = f"SELECT 1 /* ; */ ; INSERT OVERWRITE DIRECTORY '{target}' SELECT 1"
    assert _execute(spark, pipeline).outcome == "Failed"
    assert not target.exists()


def _days_ago(n: int) -> str:
    return str((datetime.now(UTC) - timedelta(days=n)).date())


def test_partitioned_parquet_retention_drops_only_expired_partitions_inside_the_sink(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = tmp_path / "lake" / "events"
    rows = [(1, _days_ago(40)), (2, _days_ago(31)), (3, _days_ago(5)), (4, _days_ago(0)), (5, None)]
    spark.createDataFrame(rows, "id int, d string").write.partitionBy("d").parquet(str(root))
    # adversarial neighbours: a sibling folder, a symlink to an old-looking folder outside the
    # sink, a folder whose escaped value tries to climb out, a non-date value, a hidden folder
    outside = tmp_path / "lake" / "precious"
    (outside / "keep").mkdir(parents=True)
    (tmp_path / "lake" / "events.__staging" / "d=2000-01-01").mkdir(parents=True)
    (root / f"d={_days_ago(400)}-link").symlink_to(outside, target_is_directory=True)
    os.symlink(outside, root / "d=2001-01-01")
    (root / "d=2000-01-01%2F..%2F..%2Fprecious").mkdir()
    (root / "d=yesterday").mkdir()
    (root / ".d=2000-01-01").mkdir()
    sink = Sink.model_validate(
        {
            "name": "s",
            "from": "x",
            "path": str(root),
            "partitionBy": ["d"],
            "retentionDays": 30,
            "retentionColumn": "d",
        }
    )
    done = retention.enforce(spark, sink)
    assert done.error is None
    assert done.partitions_dropped == 2
    assert done.kept_unparseable >= 2
    remaining = sorted(r.id for r in spark.read.parquet(str(root)).select("id").collect() if r.id is not None)
    assert remaining == [3, 4, 5]
    assert (outside / "keep").is_dir() and (root / "d=2001-01-01").is_symlink()
    assert (tmp_path / "lake" / "events.__staging" / "d=2000-01-01").is_dir()
    assert (root / "d=2000-01-01%2F..%2F..%2Fprecious").is_dir() and (root / ".d=2000-01-01").is_dir()


def test_nested_partition_level(spark: SparkSession, tmp_path: Path) -> None:
    root = tmp_path / "nested"
    rows = [(1, "DE", _days_ago(90)), (2, "DE", _days_ago(1)), (3, "FR", _days_ago(90))]
    spark.createDataFrame(rows, "id int, country string, d string").write.partitionBy("country", "d").parquet(
        str(root)
    )
    sink = Sink.model_validate(
        {
            "name": "s",
            "from": "x",
            "path": str(root),
            "partitionBy": ["country", "d"],
            "retentionDays": 30,
            "retentionColumn": "d",
        }
    )
    assert retention.enforce(spark, sink).partitions_dropped == 2
    assert spark.read.parquet(str(root)).count() == 1


def test_delta_retention_in_a_run_reports_rows_in_summary_and_lineage(
    spark: SparkSession, tmp_path: Path, lineage_validator: EventValidator
) -> None:
    events = tmp_path / "lineage.jsonl"
    out = tmp_path / "delta"
    pipeline = _pipeline(
        tmp_path,
        {"path": str(out), "format": "delta", "retentionDays": 30, "retentionColumn": "d"},
        sql="SELECT id, CAST(d AS DATE) AS d FROM people",
    )
    summary = _execute(spark, pipeline, events=events)
    assert summary.outcome == "Succeeded", summary.error
    done = summary.retention["sink"]
    assert done["rowsDeleted"] == 2 and done["vacuumed"] is True and done["column"] == "d"
    assert spark.read.format("delta").load(str(out)).count() == 1
    complete = [json.loads(line) for line in events.read_text().splitlines()][-1]
    facet = complete["outputs"][0]["facets"]["dataopsRetention"]
    assert facet["rowsDeleted"] == 2 and facet["retentionDays"] == 30
    assert lineage_validator.errors(complete) == []
    bad = json.loads(json.dumps(complete))
    bad["outputs"][0]["facets"]["dataopsRetention"]["rowsDeleted"] = -1
    assert lineage_validator.errors(bad)  # the facet's schema is really checked
    assert "retention: sink: 2 row(s) deleted" in summary.render_table()


def test_retention_column_must_be_a_time_column_of_the_output(spark: SparkSession, tmp_path: Path) -> None:
    pipeline = _pipeline(
        tmp_path,
        {"path": str(tmp_path / "o4"), "format": "delta", "retentionDays": 30, "retentionColumn": "id"},
    )
    summary = _execute(spark, pipeline)
    assert summary.outcome == "Failed"
    assert "retentionColumn 'id' is bigint" in summary.error
    missing = _pipeline(
        tmp_path,
        {"path": str(tmp_path / "o5"), "format": "delta", "retentionDays": 30, "retentionColumn": "nope"},
    )
    assert "is not a column of the output" in _execute(spark, missing).error
