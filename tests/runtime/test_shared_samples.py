"""Unexpected-value samples of several failing expectations come from one shared query that stops
early, and are exactly what each expectation's own ``limit`` query gives (the first unexpected rows
in scan order), including an expectation whose failures are rare and come last."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.quality import single_pass

EXPECTATIONS: list[dict[str, Any]] = [
    {"type": "expect_column_values_to_be_between", "column": "amount", "minValue": 0, "maxValue": 900},
    {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": ["new", "paid"]},
    {"type": "expect_column_values_to_match_regex", "column": "email", "regex": "^[a-z0-9]+@x\\.org$"},
    {"type": "expect_column_value_lengths_to_equal", "column": "country", "value": 2},
    {"type": "expect_column_pair_values_a_to_be_greater_than_b", "columnA": "amount", "columnB": "floor"},
    {"type": "expect_column_values_to_not_be_null", "column": "email"},
    {"type": "expect_column_values_to_be_between", "column": "late", "minValue": 0, "maxValue": 10},
]


def _rows(seed: int, count: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        email = None if rng.random() < 0.01 else rng.choice([f"u{i}@x.org", f"U{i}@x.org", f"u{i}@y.org"])
        country = rng.choice(["DE", "FR", "USA", "D"])
        late = 99 if i >= count - 3 else rng.randint(0, 10)  # fails only on the last three rows
        amount = rng.uniform(-50, 1000)
        rows.append(
            (
                i,
                amount,
                amount + rng.uniform(-5, 1),
                rng.choice(["new", "paid", "lost"]),
                email,
                country,
                late,
            )
        )
    return rows


@pytest.mark.parametrize(("seed", "partitions"), [(1, 1), (2, 3), (3, 7)])
def test_shared_samples_equal_each_expectations_own(
    spark: SparkSession, seed: int, partitions: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = spark.createDataFrame(
        _rows(seed, 3000),
        "id long, amount double, floor double, status string, email string, country string, late int",
    ).repartition(partitions)
    df = spark.createDataFrame(df.collect(), df.schema).coalesce(partitions).cache()  # one fixed order
    df.count()
    expectations = [Expectation.model_validate(e) for e in EXPECTATIONS]
    sc = spark.sparkContext

    sc.setJobGroup("shared", "shared samples")
    shared = single_pass.validate(df, expectations)
    shared_jobs = len(sc.statusTracker().getJobIdsForGroup("shared"))

    monkeypatch.setattr(single_pass, "_samples_together", lambda *_: None)
    sc.setJobGroup("own", "one query per expectation")
    own = single_pass.validate(df, expectations)
    own_jobs = len(sc.statusTracker().getJobIdsForGroup("own"))
    sc.setJobGroup("", "")
    df.unpersist()

    failing = [o for o in own if o.unexpected_count]
    assert len(failing) >= 6
    for a, b in zip(shared, own, strict=True):
        assert (a.success, a.unexpected_count, a.unexpected_sample) == (
            b.success,
            b.unexpected_count,
            b.unexpected_sample,
        )
    late = shared[-1]
    assert late.unexpected_count == 3 and late.unexpected_sample == [99, 99, 99]
    assert shared_jobs < own_jobs, (shared_jobs, own_jobs)
