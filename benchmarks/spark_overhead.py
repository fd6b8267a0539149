"""Framework overhead: the same SQL over the same data through `dataops run`'s executor and as a
hand-written PySpark script, in one Spark session, after a warm-up, median of N alternating runs.

    python -m benchmarks.spark_overhead [--rows 10000000] [--repeats 3]

Target: the framework adds at most 5% over hand-written PySpark.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.plan.runplan import build_run_plan
from dataops.runtime.session import local_session
from dataops.runtime.spark_job import execute_plan

FILTER_SQL = "SELECT customer_id, category, amount FROM events WHERE amount > 10"
AGGREGATE_SQL = (
    "SELECT category, customer_id % 1000 AS bucket, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
    "FROM filtered GROUP BY category, customer_id % 1000"
)


def generate(spark: SparkSession, path: Path, rows: int) -> None:
    (
        spark.range(rows)
        .select(
            F.col("id"),
            (F.col("id") * 7919 % 100_000).alias("customer_id"),
            F.element_at(
                F.array(*[F.lit(c) for c in "abcdefghij"]), (F.col("id") % 10 + 1).cast("int")
            ).alias("category"),
            ((F.col("id") * 104729 % 100_000) / 100.0).alias("amount"),
        )
        .write.mode("overwrite")
        .parquet(str(path))
    )


def hand_written(spark: SparkSession, source: Path, target: Path) -> None:
    spark.read.parquet(str(source)).createOrReplaceTempView("events")
    spark.sql(FILTER_SQL).createOrReplaceTempView("filtered")
    spark.sql(AGGREGATE_SQL).write.mode("overwrite").parquet(str(target))


def framework(spark: SparkSession, source: Path, target: Path) -> None:
    pipeline = DataPipeline.model_validate(
        {
            "metadata": {"name": "bench"},
            "spec": {
                "sources": [{"name": "events", "file": {"path": str(source), "format": "parquet"}}],
                "transforms": [
                    {"name": "filtered", "sql": FILTER_SQL},
                    {"name": "agg", "sql": AGGREGATE_SQL},
                ],
                "sinks": [{"name": "out", "from": "agg", "path": str(target), "mode": "overwrite"}],
            },
        }
    )
    plan = build_run_plan(name="bench", namespace="bench", spec=pipeline.spec)
    lineage = LineageEmitter(make_transport("none"), job_namespace="bench", job_name="bench")
    summary = execute_plan(spark, plan, run_id="bench", lineage=lineage)
    if summary.outcome != "Succeeded":
        raise RuntimeError(summary.error)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dataops-bench-"))
    try:
        spark = local_session(master="local[*]", app_name="bench", conf={"spark.sql.shuffle.partitions": "8"})
        source = work / "events"
        generate(spark, source, args.rows)
        times: dict[str, list[float]] = {"hand-written PySpark": [], "dataops executor": []}
        runners = {"hand-written PySpark": hand_written, "dataops executor": framework}
        for name, fn in runners.items():  # warm-up
            fn(spark, source, work / f"warm-{name[:4]}")
        for i in range(args.repeats):
            order = list(runners) if i % 2 == 0 else list(reversed(runners))
            for name in order:
                started = time.perf_counter()
                runners[name](spark, source, work / f"out-{name[:4]}")
                times[name].append(time.perf_counter() - started)
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times["hand-written PySpark"])
    ours = statistics.median(times["dataops executor"])
    print(f"rows: {args.rows:,}  repeats: {args.repeats} (median, after one warm-up)")
    print(f"{'variant':<22} | {'median s':>8} | runs")
    print(f"{'-' * 22}-+-{'-' * 8}-+------")
    for name, values in times.items():
        print(f"{name:<22} | {statistics.median(values):8.2f} | {', '.join(f'{v:.2f}' for v in values)}")
    print(f"ratio dataops / hand-written: {ours / base:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
