"""`dataops profile` proposes a valid suite that the profiled data passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuite
from dataops.api.validation import validate_document
from dataops.quality import single_pass
from dataops.quality.profile import propose_suite
from tests.conftest import EXAMPLES, ROOT


def test_proposed_suite_is_valid_and_passes_on_its_data(spark: SparkSession, tmp_path: Path) -> None:
    rows = [(i, f"u{i}@example.com" if i % 10 else None, ["new", "paid"][i % 2], i * 1.5) for i in range(200)]
    df = spark.createDataFrame(rows, "id long, email string, status string, amount double")
    df.write.parquet(str(tmp_path / "data"))
    data = spark.read.parquet(str(tmp_path / "data"))
    suite = propose_suite(data, name="orders", path=str(tmp_path / "data"), file_format="parquet")
    assert validate_document(suite) == []
    by_rule = {(e["type"], e.get("column")): e for e in suite["spec"]["expectations"]}
    assert by_rule[("expect_column_values_to_not_be_null", "email")]["mostly"] == 0.9
    assert "mostly" not in by_rule[("expect_column_values_to_not_be_null", "id")]
    assert by_rule[("expect_column_values_to_be_in_set", "status")]["valueSet"] == ["new", "paid"]
    assert (
        by_rule[("expect_column_values_to_be_between", "amount")]["minValue"],
        by_rule[("expect_column_values_to_be_between", "amount")]["maxValue"],
    ) == (0.0, 298.5)
    assert ("expect_column_values_to_be_unique", "id") in by_rule
    assert ("expect_column_values_to_be_unique", "status") not in by_rule
    parsed = DataQualitySuite.model_validate(suite)
    outcomes = single_pass.validate(data, parsed.spec.expectations)
    assert [o.type for o in outcomes if not o.success] == []


def test_profile_command_prints_applicable_yaml() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "dataops.cli",
            "profile",
            "--path",
            str(EXAMPLES / "data" / "orders.csv"),
            "--name",
            "orders-profile",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    suite = yaml.safe_load(result.stdout)
    assert suite["kind"] == "DataQualitySuite" and suite["metadata"]["name"] == "orders-profile"
    assert validate_document(suite) == []
    types = {e["type"] for e in suite["spec"]["expectations"]}
    assert "expect_column_values_to_be_in_set" in types  # status has three values
