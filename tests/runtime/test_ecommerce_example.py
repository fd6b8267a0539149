"""examples/ecommerce end to end: the data is what generate.py writes (small, deterministic), every
manifest passes `dataops validate`, and the batch pipeline runs with `dataops run` on the bundled
data: marts and recommendations are written, the model is saved as a version, and the customer PII
the DataPolicy masks appears nowhere in clear in any output."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from tests.conftest import EXAMPLES, ROOT

ECOMMERCE = EXAMPLES / "ecommerce"
LAKE = "/tmp/dataops-lake/ecommerce"


def _dataops(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
    return subprocess.run(
        [sys.executable, "-m", "dataops.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
        env=env,
    )


def test_bundled_data_is_small_and_what_the_generator_writes(tmp_path: Path) -> None:
    committed = sorted((ECOMMERCE / "data").glob("*.csv"))
    assert [p.name for p in committed] == ["customers.csv", "products.csv", "transactions.csv"]
    assert sum(p.stat().st_size for p in ECOMMERCE.rglob("*") if p.is_file()) < 2_000_000
    subprocess.run([sys.executable, str(ECOMMERCE / "generate.py"), "--out", str(tmp_path)], check=True)
    for path in committed:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_the_whole_example_passes_offline_validation() -> None:
    manifests = sorted(str(p) for p in ECOMMERCE.rglob("*.yaml"))
    assert len(manifests) == 5
    result = _dataops("validate", *(arg for m in manifests for arg in ("-f", m)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 valid, 0 invalid" in result.stdout
    assert "DataPipeline/shop-ingest: valid" in result.stdout  # the streaming ingestion
    assert "DataPipeline/shop-batch: valid" in result.stdout
    folder = _dataops("validate", "-f", str(ECOMMERCE))
    assert folder.returncode == 0, folder.stdout + folder.stderr


def _pii() -> dict[str, set[str]]:
    values: dict[str, set[str]] = {"email": set(), "name": set(), "phone": set()}
    with (ECOMMERCE / "data" / "customers.csv").open() as fh:
        for row in csv.DictReader(fh):
            for column in values:
                values[column].add(row[column])
    return values


@pytest.mark.spark
def test_batch_part_runs_end_to_end_with_masked_pii(spark: SparkSession, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    batch = tmp_path / "batch"
    batch.mkdir()
    for manifest in sorted(ECOMMERCE.glob("*.yaml")):  # the folder's own files: the batch part
        (batch / manifest.name).write_text(manifest.read_text().replace(LAKE, str(lake)))
    events = tmp_path / "lineage.jsonl"
    result = _dataops("run", "-f", str(batch), "--master", "local[2]", "--lineage", f"file:{events}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Succeeded" in result.stdout
    table = {
        tuple(c.strip() for c in line.split("|")[:2]): line.split("|")[2].strip()
        for line in result.stdout.splitlines()
        if line.count("|") == 2
    }
    assert table[("transactions", "read")] == "12,000"
    assert table[("customer_features", "written")] == "500"
    assert table[("recommendations", "written")] == "5,000"  # 10 per customer
    assert "model: recommendations: v1 at" in result.stdout
    assert "masked: customer_features.email" in result.stdout

    model_root = lake / "models" / "product-recommender"
    assert (model_root / "LATEST").read_text().strip() == "v1"
    saved = json.loads((model_root / "v1" / "dataops-model.json").read_text())
    assert saved["pipeline"] == "shop-batch" and saved["metrics"]["precisionAt10"] > 0

    features = spark.read.parquet(str(lake / "marts" / "customer_features"))
    recommendations = spark.read.parquet(str(lake / "marts" / "recommendations"))
    revenue = spark.read.format("delta").load(str(lake / "marts" / "daily_revenue"))
    assert revenue.count() > 0 and recommendations.count() == 5000
    rows = features.collect()
    assert len(rows) == 500
    pii = _pii()
    for column in ("email", "name"):
        assert all(r[column] and r[column] not in pii[column] for r in rows), column
    for row in rows:  # partial: only the last 4 characters stay in clear
        assert row["phone"] not in pii["phone"] and row["phone"][-4:].isdigit()
    clear = set().union(*pii.values())
    for df in (features, recommendations, revenue):
        strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
        for row in df.select(*strings).collect():
            assert not clear & set(row), row

    complete = json.loads(events.read_text().splitlines()[-1])
    assert complete["eventType"] == "COMPLETE"
    model_output = next(o for o in complete["outputs"] if o["name"] == str(model_root))
    assert model_output["facets"]["dataopsModel"]["version"] == "v1"
    assert set(model_output["facets"]["dataopsModel"]["metrics"]) >= {
        "rmse",
        "precisionAt10",
        "baselinePrecisionAt10",
    }
