"""Validation cost of a 10-expectation suite over N rows of Parquet, four ways, same session:

(a) a plain scan that reads every column the suite touches,
(b) a hand-written single Spark aggregation computing exactly the same checks (the floor),
(c) the single-pass engine, including result assembly and unexpected samples of failures,
(d) Great Expectations 1.x on Spark validating the same checks the way its users run a suite: one
    context, one ExpectationSuite, one ValidationDefinition, ``result_format="SUMMARY"``; the
    context, suite and definition are built once, outside the clock, and each repeat times
    ``ValidationDefinition.run`` on the DataFrame batch.

    python -m benchmarks.quality_engines [--rows 10000000] [--repeats 5] [--warmups 2]

After warm-ups of each (2: the JVM compiles the hot paths), median of N; the variants run in
turn, in reverse order every other repeat. Targets (issue 14): c/b <= 1.1 and d/c >= 4.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dataops.api.v1alpha1.dataqualitysuite import Expectation
from dataops.quality import single_pass
from dataops.quality.gx_engine import gx_expectation
from dataops.runtime.session import local_session

SUITE = [
    {"type": "expect_column_values_to_not_be_null", "column": "id"},
    {"type": "expect_column_values_to_not_be_null", "column": "email"},
    {"type": "expect_column_values_to_be_between", "column": "amount", "minValue": 0, "maxValue": 900},
    {"type": "expect_column_values_to_be_between", "column": "quantity", "minValue": 1, "maxValue": 100},
    {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": ["new", "paid", "shipped"]},
    {"type": "expect_column_values_to_match_regex", "column": "email", "regex": "^[a-z0-9]+@example\\.com$"},
    {"type": "expect_column_value_lengths_to_be_between", "column": "country", "minValue": 2, "maxValue": 2},
    {"type": "expect_column_mean_to_be_between", "column": "amount", "minValue": 100, "maxValue": 800},
    {"type": "expect_column_max_to_be_between", "column": "quantity", "maxValue": 100},
    {"type": "expect_table_row_count_to_be_between", "minValue": 1},
]
COLUMNS = ["id", "email", "amount", "quantity", "status", "country"]


def generate(spark: SparkSession, path: Path, rows: int) -> None:
    statuses = F.array(*[F.lit(s) for s in ("new", "paid", "shipped", "lost")])
    countries = F.array(*[F.lit(c) for c in ("DE", "FR", "US", "NLD")])
    (
        spark.range(rows)
        .select(
            F.col("id"),
            F.when(F.col("id") % 1000 == 0, None)
            .otherwise(F.concat(F.lit("user"), F.col("id").cast("string"), F.lit("@example.com")))
            .alias("email"),
            ((F.col("id") * 7919 % 100_000) / 100.0).alias("amount"),
            (F.col("id") % 101 + 1).alias("quantity"),
            F.element_at(statuses, (F.col("id") % 997 % 4 + 1).cast("int")).alias("status"),
            F.element_at(countries, (F.col("id") % 991 % 4 + 1).cast("int")).alias("country"),
        )
        .write.mode("overwrite")
        .parquet(str(path))
    )


def plain_scan(df: DataFrame) -> None:
    df.select(*COLUMNS).write.format("noop").mode("overwrite").save()


def hand_written(df: DataFrame) -> None:
    email, amount, quantity = F.col("email"), F.col("amount"), F.col("quantity")

    def bad(condition: Column) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0))

    df.agg(
        F.count(F.lit(1)),
        bad(F.col("id").isNull()),
        bad(email.isNull()),
        bad(amount.isNotNull() & ~((amount >= 0) & (amount <= 900))),
        F.count(amount),
        bad(quantity.isNotNull() & ~((quantity >= 1) & (quantity <= 100))),
        F.count(quantity),
        bad(F.col("status").isNotNull() & ~F.col("status").isin("new", "paid", "shipped")),
        F.count("status"),
        bad(email.isNotNull() & ~email.rlike("^[a-z0-9]+@example\\.com$")),
        F.count(email),
        bad(F.col("country").isNotNull() & ~(F.length("country") == 2)),
        F.count("country"),
        F.mean(amount),
        F.max(quantity),
    ).collect()


os.environ.setdefault("TQDM_DISABLE", "1")  # Great Expectations' progress bars


def gx_suite_runner(expectations: list[Expectation]) -> Callable[[DataFrame], object]:
    """Great Expectations as its users validate a suite: set up once, then one run per batch."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batches = context.data_sources.add_spark("bench").add_dataframe_asset("orders")
    whole = batches.add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name="orders-quality"))
    for expectation in expectations:
        suite.add_expectation(gx_expectation(expectation))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="orders", data=whole, suite=suite)
    )

    def run(df: DataFrame) -> object:
        result = definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
        assert len(result.results) == len(expectations)
        return result

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=2)
    args = parser.parse_args()
    expectations = [Expectation.model_validate(e) for e in SUITE]
    work = Path(tempfile.mkdtemp(prefix="dataops-quality-bench-"))
    try:
        spark = local_session(master="local[*]", app_name="quality-bench")
        generate(spark, work / "data", args.rows)
        df = spark.read.parquet(str(work / "data"))
        gx_suite = gx_suite_runner(expectations)
        variants: dict[str, Callable[[], object]] = {
            "(a) plain scan": lambda: plain_scan(df),
            "(b) hand-written aggregation": lambda: hand_written(df),
            "(c) single-pass engine": lambda: single_pass.validate(df, expectations),
            "(d) Great Expectations 1.x, one suite": lambda: gx_suite(df),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.warmups):
            for fn in variants.values():
                fn()
        for i in range(args.repeats):
            for name, fn in list(variants.items())[:: 1 if i % 2 == 0 else -1]:
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
        failed = [o.type for o in single_pass.validate(df, expectations) if not o.success]
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in times.items()}
    print(
        f"rows: {args.rows:,}  expectations: {len(SUITE)}  failing: {len(failed)}  "
        f"(median of {args.repeats}, after {args.warmups} warm-ups)"
    )
    print(f"{'variant':<38} | {'median s':>8} | runs")
    print(f"{'-' * 38}-+-{'-' * 8}-+------")
    for name, values in times.items():
        print(f"{name:<38} | {median[name]:8.2f} | {', '.join(f'{v:.2f}' for v in values)}")
    c, b, d = (
        median["(c) single-pass engine"],
        median["(b) hand-written aggregation"],
        median["(d) Great Expectations 1.x, one suite"],
    )
    verdict = {True: "met", False: "NOT MET"}
    print(f"c/b = {c / b:.2f} (target <= 1.1: {verdict[c / b <= 1.1]})")
    print(f"d/c = {d / c:.1f} (target >= 4: {verdict[d / c >= 4]})")


if __name__ == "__main__":
    main()
