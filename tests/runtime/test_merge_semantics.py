"""Merge sinks with duplicate keys in a run: one row per key (latestBy), or a clear refusal.

Differential: random batches (duplicate keys, null keys, null and tied latestBy values, identical
duplicate rows) are merged run after run into Parquet and Delta targets by the product, and into a
dict by a plain-Python model of the documented semantics; the tables, the inserted/updated/superseded
counts and the verdicts (fail on ambiguity, target untouched) must agree.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import execute_plan
from dataops.runtime.summary import RunSummary

Row = tuple[Any, ...]  # (id, region, ts, value)
COLUMNS = ("id", "region", "ts", "value")
SCHEMA = [
    {"name": "id", "type": "int"},
    {"name": "region", "type": "string"},
    {"name": "ts", "type": "int"},
    {"name": "value", "type": "string"},
]


def _pipeline(tmp: Path, *, fmt: str, latest_by: list[str], keys: list[str]) -> DataPipeline:
    sink: dict[str, Any] = {
        "name": "latest",
        "from": "batch",
        "format": fmt,
        "path": str(tmp / "target"),
        "mode": "merge",
        "mergeKeys": keys,
    }
    if latest_by:
        sink["latestBy"] = latest_by
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "merges", "namespace": "test"},
            "spec": {
                "sources": [
                    {
                        "name": "batch",
                        "file": {"path": str(tmp / "batch"), "format": "json", "schema": SCHEMA},
                    }
                ],
                "sinks": [sink],
            },
        }
    )


def _write_batch(tmp: Path, rows: list[Row]) -> None:
    folder = tmp / "batch"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    with (folder / "part.json").open("w") as handle:
        for row in rows:
            handle.write(json.dumps(dict(zip(COLUMNS, row, strict=True))) + "\n")


def _run(spark: SparkSession, pipeline: DataPipeline, run_id: str) -> RunSummary:
    plan = build_run_plan(name="merges", namespace="test", spec=pipeline.spec)
    return execute_plan(spark, plan, run_id=run_id, lineage=None)


class Model:
    """The documented semantics, in plain Python."""

    def __init__(self, keys: list[str], latest_by: list[str]) -> None:
        self.keys = [COLUMNS.index(k) for k in keys]
        self.latest_by = [COLUMNS.index(c) for c in latest_by]
        self.table: dict[Row, Row] = {}

    def key(self, row: Row) -> Row:
        return tuple(row[i] for i in self.keys)

    def rank(self, row: Row) -> tuple[tuple[bool, Any], ...]:
        return tuple((row[i] is not None, row[i] if row[i] is not None else 0) for i in self.latest_by)

    def latest(self, batch: list[Row]) -> dict[Row, list[Row]]:
        """Per key, its different rows with the greatest latestBy values."""
        by_key: dict[Row, set[Row]] = {}
        for row in batch:
            by_key.setdefault(self.key(row), set()).add(row)
        top: dict[Row, list[Row]] = {}
        for key, rows in by_key.items():
            best = max(self.rank(r) for r in rows)
            top[key] = [r for r in rows if self.rank(r) == best]
        return top

    def ambiguous(self, batch: list[Row]) -> set[Row]:
        return {key for key, rows in self.latest(batch).items() if len(rows) > 1}

    def merge(self, batch: list[Row]) -> dict[str, int] | None:
        """The counts, or None when the run must fail (a key with several different latest rows)."""
        if self.ambiguous(batch):
            return None
        winners = {key: rows[0] for key, rows in self.latest(batch).items()}
        updated = sum(1 for k in winners if k in self.table)
        self.table.update(winners)
        return {
            "inserted": len(winners) - updated,
            "updated": updated,
            "superseded": len(batch) - len(winners),
            "tableRows": len(self.table),
        }


def _random_batch(rng: random.Random, *, ambiguous: bool) -> list[Row]:
    rows: list[Row] = []
    for _ in range(rng.randint(5, 40)):
        key = rng.choice([None, *range(12)])
        region = rng.choice(["eu", "us"])
        ts = rng.choice([None, 1, 2, 3, 4, 5])
        rows.append((key, region, ts, rng.choice("abcdef")))
    rows += rng.sample(rows, k=min(3, len(rows)))  # identical duplicates collapse
    if ambiguous:  # two different rows of one key with the same latest ts
        rows += [(99, "eu", 7, "x"), (99, "eu", 7, "y")]
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_merges_match_a_model_of_the_semantics(spark: SparkSession, tmp_path: Path, fmt: str) -> None:
    rng = random.Random(f"merge-{fmt}")
    keys, latest_by = ["id", "region"], ["ts", "value"]
    pipeline = _pipeline(tmp_path, fmt=fmt, latest_by=latest_by, keys=keys)
    model = Model(keys, ["ts"])  # ts decides; ties on ts are broken by value (the second column)
    model.latest_by = [COLUMNS.index("ts"), COLUMNS.index("value")]
    verdicts = []
    for run in range(6):
        batch = _random_batch(rng, ambiguous=False)
        expected = model.merge(batch)
        assert expected is not None
        _write_batch(tmp_path, batch)
        summary = _run(spark, pipeline, f"r{run}")
        assert summary.outcome == "Succeeded", summary.error
        assert summary.merged["latest"] == expected, f"run {run}"
        assert summary.rows_written["latest"] == expected["inserted"] + expected["updated"]
        rows = spark.read.format(fmt).load(str(tmp_path / "target")).collect()
        assert sorted(map(tuple, rows), key=repr) == sorted(model.table.values(), key=repr)
        verdicts.append(expected["updated"] > 0 and expected["superseded"] > 0)
    assert any(verdicts), "the random batches never exercised updates of superseded keys"


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_ambiguous_keys_fail_the_run_and_leave_the_target(
    spark: SparkSession, tmp_path: Path, fmt: str
) -> None:
    rng = random.Random(f"ambiguous-{fmt}")
    with_order = _pipeline(tmp_path, fmt=fmt, latest_by=["ts"], keys=["id"])
    model = Model(["id"], ["ts"])
    first = [(1, "eu", 1, "a"), (1, "eu", 2, "b"), (2, "us", None, "c"), (2, "us", 1, "d")]
    _write_batch(tmp_path, first)
    assert _run(spark, with_order, "r0").outcome == "Succeeded"
    assert model.merge(first) == {"inserted": 2, "updated": 0, "superseded": 2, "tableRows": 2}
    before = sorted(map(tuple, spark.read.format(fmt).load(str(tmp_path / "target")).collect()), key=repr)
    assert before == sorted(model.table.values(), key=repr)  # ts 2 beats 1; a null ts loses

    batch = _random_batch(rng, ambiguous=True)
    ambiguous = model.ambiguous(batch)
    assert (99,) in ambiguous and model.merge(batch) is None
    _write_batch(tmp_path, batch)
    tied = _run(spark, with_order, "r1")
    assert tied.outcome == "Failed"
    assert tied.error is not None
    assert tied.error.startswith(f"sink 'latest': {len(ambiguous)} merge key(s) have several different rows ")
    assert "with the same latest ts (e.g. id=" in tied.error, tied.error
    example = int(tied.error.split("(e.g. id=", 1)[1].split(")", 1)[0])
    assert (example,) in ambiguous

    no_order = _pipeline(tmp_path, fmt=fmt, latest_by=[], keys=["id"])
    _write_batch(tmp_path, [(5, "eu", 1, "a"), (5, "eu", 1, "a"), (6, "eu", 1, "a"), (6, "us", 1, "a")])
    unordered = _run(spark, no_order, "r2")
    assert unordered.outcome == "Failed"
    assert unordered.error is not None and "1 merge key(s) occur in several different rows" in unordered.error
    assert "id=6" in unordered.error and "set latestBy" in unordered.error

    after = sorted(map(tuple, spark.read.format(fmt).load(str(tmp_path / "target")).collect()), key=repr)
    assert after == before


def test_identical_duplicates_and_null_keys_merge_without_latest_by(
    spark: SparkSession, tmp_path: Path
) -> None:
    pipeline = _pipeline(tmp_path, fmt="parquet", latest_by=[], keys=["id"])
    batch = [(None, "eu", 1, "a"), (None, "eu", 1, "a"), (3, "us", 2, "b")]
    _write_batch(tmp_path, batch)
    summary = _run(spark, pipeline, "r0")
    assert summary.outcome == "Succeeded", summary.error
    assert summary.merged["latest"] == {"inserted": 2, "updated": 0, "superseded": 1, "tableRows": 2}
    _write_batch(tmp_path, [(None, "eu", 5, "z")])  # a null key matches the null key (<=>)
    summary = _run(spark, pipeline, "r1")
    assert summary.merged["latest"] == {"inserted": 0, "updated": 1, "superseded": 0, "tableRows": 2}
    rows = sorted(map(tuple, spark.read.parquet(str(tmp_path / "target")).collect()), key=repr)
    assert rows == sorted([(None, "eu", 5, "z"), (3, "us", 2, "b")], key=repr)
    assert "merged: latest: 0 inserted, 1 updated; the table has 2 rows" in summary.render_table()


def test_a_missing_latest_by_column_names_the_field(spark: SparkSession, tmp_path: Path) -> None:
    pipeline = _pipeline(tmp_path, fmt="delta", latest_by=["updated_at"], keys=["id"])
    _write_batch(tmp_path, [(1, "eu", 1, "a")])
    summary = _run(spark, pipeline, "r0")
    assert summary.outcome == "Failed"
    assert summary.error is not None
    assert summary.error.startswith("sink 'latest': latestBy column(s) updated_at not in the rows written")
