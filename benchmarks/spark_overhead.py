"""Framework overhead: the same SQL over the same data through `dataops run`'s executor and as a
hand-written PySpark script, in one Spark session, after warm-ups of every variant (2), median of
N runs; each pair's two variants run back to back, in alternating order.

    python -m benchmarks.spark_overhead [--rows 10000000] [--repeats 5] [--warmups 2]
        [--baseline-publish rename]

Target (issue 14): dataops adds at most 5% over hand-written PySpark (ratio <= 1.05) on each pair:

1. cheap path: no gates. dataops' executor (lineage emitter with the ``none`` transport, as
   ``dataops run`` without ``--lineage``) vs ``spark.sql(...).write.mode("overwrite").parquet``.
2. gated path: the same pipeline with a blocking quality gate, a DataQualitySuite of six
   expectations on the output (not_null, in_set, three between, table row count), so the run does
   write-audit-publish: stage the output (Parquet), validate the staged data (single-pass engine:
   one aggregation), publish it (a Parquet overwrite: written beside the target, then renamed into
   place). Baseline: what a user would write for the same guarantee (readers see the old output or
   the new one, never a half-written or unvalidated one): compute the output, write it to a
   staging folder, check the same six conditions with one ``df.agg`` over the staged data (raise
   if any fails, leaving the staging folder), then publish with an atomic folder switch through the
   Hadoop FileSystem: move the old target aside, rename the staged folder into place, delete the
   old one. The staged Parquet already is the target's format, so that user does not write it
   again (``--baseline-publish rename``, the default and the strictest baseline); with
   ``--baseline-publish rewrite`` the baseline publishes as dataops does (re-reads the staged data,
   writes it beside the target and renames that into place).
3. gated path with lineage on: the run of 2 with the product's OpenLineage emitter
   (``pipeline_emitter`` with a ``file:`` transport: START, the gate's child run, COMPLETE with
   schema, column lineage, row counts and assertions) vs the same hand-written gated baseline,
   measured again beside it: a user without the product has no lineage.

Every run is checked after its clock stops (a failed check aborts the benchmark): the dataops runs
succeeded and published, the gate ran its six expectations and all passed, the lineage file holds
the run's and the gate's events; at the end every variant's output has the same rows as the cheap
hand-written one (same keys and counts; sums and means equal within 1e-9 relative, since Spark
may add floating-point partial sums in a different order).

Below the table, each dataops variant's median time per phase of its run (from one progress
message of execute_plan to the next), to show where its time goes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.plan.runplan import RunPlan, build_run_plan
from dataops.quality.gate import SuiteGateRunner
from dataops.runtime.session import local_session
from dataops.runtime.spark_job import execute_plan, pipeline_emitter

FILTER_SQL = "SELECT customer_id, category, amount FROM events WHERE amount > 10"
AGGREGATE_SQL = (
    "SELECT category, customer_id % 1000 AS bucket, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
    "FROM filtered GROUP BY category, customer_id % 1000"
)
CATEGORIES = list("abcdefghij")
SUITE_NAME = "bench-suite"
SUITE: dict[str, Any] = {
    "expectations": [
        {"type": "expect_column_values_to_not_be_null", "column": "category"},
        {"type": "expect_column_values_to_be_in_set", "column": "category", "valueSet": CATEGORIES},
        {"type": "expect_column_values_to_be_between", "column": "bucket", "minValue": 0, "maxValue": 999},
        {"type": "expect_column_values_to_be_between", "column": "n", "minValue": 1},
        {"type": "expect_column_values_to_be_between", "column": "mean", "minValue": 10, "maxValue": 1000},
        {"type": "expect_table_row_count_to_be_between", "minValue": 1},
    ]
}
TARGET = 1.05

Check = Callable[[], None]  # verifies a run after its clock stopped
Runner = Callable[[SparkSession, Path, Path], Check]


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


# --- hand-written PySpark ---------------------------------------------------------------------


def _output(spark: SparkSession, source: Path) -> DataFrame:
    spark.read.parquet(str(source)).createOrReplaceTempView("events")
    spark.sql(FILTER_SQL).createOrReplaceTempView("filtered")
    return spark.sql(AGGREGATE_SQL)


def hand_written(spark: SparkSession, source: Path, target: Path) -> Check:
    _output(spark, source).write.mode("overwrite").parquet(str(target))
    return lambda: None


def _violations(df: DataFrame) -> dict[str, int]:
    """The suite's six conditions in one aggregation, as a user would write them (nulls pass
    in_set and between, as in Great Expectations)."""

    def failing(condition: Column) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0))

    row = df.agg(
        F.count(F.lit(1)).alias("rows"),
        failing(F.col("category").isNull()).alias("category is null"),
        failing(~F.col("category").isin(CATEGORIES)).alias("category not in set"),
        failing(~F.col("bucket").between(0, 999)).alias("bucket out of [0, 999]"),
        failing(F.col("n") < 1).alias("n below 1"),
        failing(~F.col("mean").between(10, 1000)).alias("mean out of [10, 1000]"),
    ).first()
    assert row is not None
    found = {name: int(row[name] or 0) for name in row.asDict() if name != "rows"}
    found["no rows"] = int(row["rows"] == 0)
    return {name: count for name, count in found.items() if count}


def _hadoop(spark: SparkSession, location: str) -> tuple[Any, Any]:
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path


def _switch(spark: SparkSession, new: str, target: str) -> None:
    """Atomic folder switch: the old target aside, the new folder renamed into place, old deleted."""
    fs, target_path = _hadoop(spark, target)
    _, new_path = _hadoop(spark, new)
    _, old_path = _hadoop(spark, f"{target}.__old")
    fs.delete(old_path, True)
    if fs.exists(target_path) and not fs.rename(target_path, old_path):
        raise RuntimeError(f"could not move {target} aside")
    if not fs.rename(new_path, target_path):
        fs.rename(old_path, target_path)
        raise RuntimeError(f"could not rename {new} to {target}")
    fs.delete(old_path, True)


def hand_written_gated(*, rewrite: bool) -> Runner:
    def run(spark: SparkSession, source: Path, target: Path) -> Check:
        staging = f"{target}.__staging"
        _output(spark, source).write.mode("overwrite").parquet(staging)
        failed = _violations(spark.read.parquet(staging))
        if failed:  # the staged folder stays for inspection; nothing is published
            raise RuntimeError(f"hand-written gate failed: {failed}")
        if rewrite:
            beside = f"{target}.__publish"
            spark.read.parquet(staging).write.mode("overwrite").parquet(beside)
            _switch(spark, beside, str(target))
            fs, path = _hadoop(spark, staging)
            fs.delete(path, True)
        else:
            _switch(spark, staging, str(target))
        return lambda: None

    return run


# --- dataops ----------------------------------------------------------------------------------

_run_ids = itertools.count()


def _plan(source: Path, target: Path, *, gated: bool) -> RunPlan:
    spec: dict[str, Any] = {
        "sources": [{"name": "events", "file": {"path": str(source), "format": "parquet"}}],
        "transforms": [{"name": "filtered", "sql": FILTER_SQL}, {"name": "agg", "sql": AGGREGATE_SQL}],
        "sinks": [{"name": "out", "from": "agg", "path": str(target), "mode": "overwrite"}],
    }
    if gated:
        spec["qualityGates"] = [{"suiteRef": {"name": SUITE_NAME}, "action": "block"}]
    pipeline = DataPipeline.model_validate({"metadata": {"name": "bench"}, "spec": spec})
    # the operator resolves the suites a pipeline's gates reference into its plan
    suites = {SUITE_NAME: DataQualitySuiteSpec.model_validate(SUITE).to_json()} if gated else None
    return build_run_plan(name="bench", namespace="bench", spec=pipeline.spec, suites=suites)


@dataclass
class Phases:
    """Where a dataops run's time goes: from each progress message to the next (the last one to the
    end of execute_plan), summed per kind of message ("staging sink", "quality gate", ...)."""

    runs: list[dict[str, float]] = field(default_factory=list)
    _marks: list[tuple[str, float]] = field(default_factory=list)

    def progress(self, message: str) -> None:
        kind = " ".join(message.split()[:2])
        kind = "unclassified-PII detection, end" if kind == "looking for" else kind
        self._marks.append((kind, time.perf_counter()))

    def start(self) -> None:
        self._marks = [("start", time.perf_counter())]

    def finish(self) -> None:
        self._marks.append(("", time.perf_counter()))
        phases: dict[str, float] = {}
        for (kind, at), (_, until) in itertools.pairwise(self._marks):
            phases[kind] = phases.get(kind, 0.0) + until - at
        self.runs.append(phases)

    def medians(self, timed: int) -> str:
        runs = self.runs[-timed:]  # not the warm-ups
        kinds = dict.fromkeys(k for r in runs for k in r)
        return ", ".join(f"{k} {statistics.median(r.get(k, 0.0) for r in runs):.2f}" for k in kinds)


def framework(*, gated: bool, phases: Phases, lineage_dir: Path | None = None) -> Runner:
    def run(spark: SparkSession, source: Path, target: Path) -> Check:
        phases.start()
        run_id = f"bench-{next(_run_ids)}"
        plan = _plan(source, target, gated=gated)
        events = lineage_dir / f"{run_id}.jsonl" if lineage_dir is not None else None
        lineage = (
            pipeline_emitter(plan, f"file:{events}")
            if events is not None
            else LineageEmitter(make_transport("none"), job_namespace="bench", job_name="bench")
        )
        # as the driver pod builds it (spark_job._gate_runner): the engine over the plan's suites
        gates = (
            SuiteGateRunner({n: DataQualitySuiteSpec.model_validate(s) for n, s in plan.suites.items()})
            if gated
            else None
        )
        summary = execute_plan(
            spark, plan, run_id=run_id, lineage=lineage, gate_runner=gates, progress=phases.progress
        )
        phases.finish()

        def check() -> None:
            if summary.outcome != "Succeeded" or summary.published != ["out"] or summary.quarantine:
                raise RuntimeError(f"dataops run {run_id}: {summary.outcome}, {summary.error}")
            if gates is not None:
                outcomes = [o for outcome in gates.outcomes.values() for o in outcome.results]
                if len(outcomes) != len(SUITE["expectations"]) or not all(o.success for o in outcomes):
                    raise RuntimeError(f"dataops run {run_id}: the gate did not pass: {outcomes}")
            if events is not None:
                _check_lineage(events, run_id, summary.rows_written.get("out"), lineage)

        return check

    return run


def _check_lineage(events: Path, run_id: str, rows: int | None, lineage: LineageEmitter) -> None:
    if lineage.send_errors:
        raise RuntimeError(f"lineage of {run_id} not sent: {lineage.send_errors[0]}")
    sent = [json.loads(line) for line in events.read_text().splitlines()]
    seen = [(e["job"]["name"], e["eventType"]) for e in sent]
    wanted = [("bench", "START"), (f"bench.{SUITE_NAME}", "COMPLETE"), ("bench", "COMPLETE")]
    if any(w not in seen for w in wanted):
        raise RuntimeError(f"lineage of {run_id}: expected {wanted}, got {seen}")
    (output,) = sent[-1]["outputs"]
    statistics_facet = output.get("outputFacets", {}).get("outputStatistics", {})
    if rows is None or statistics_facet.get("rowCount") != rows:
        raise RuntimeError(f"lineage of {run_id}: rowCount {statistics_facet} != rows written {rows}")


# --- measurement ------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    run: Runner
    phases: Phases | None = None  # dataops variants: where their time goes
    times: list[float] = field(default_factory=list)

    def median(self) -> float:
        return statistics.median(self.times)


@dataclass
class Pair:
    name: str
    base: Variant
    ours: Variant

    def ratio(self) -> float:
        return self.ours.median() / self.base.median()


def _same_rows(spark: SparkSession, reference: Path, other: Path) -> None:
    """Fail unless ``other`` holds the rows of ``reference``: same keys and counts, sums and means
    equal within 1e-9 relative (floating-point partial sums may be added in another order)."""
    a = spark.read.parquet(str(reference)).alias("a")
    b = spark.read.parquet(str(other)).alias("b")
    joined = a.join(b, ["category", "bucket"], "full_outer")

    def differs(column: str) -> Column:
        x, y = F.col(f"a.{column}"), F.col(f"b.{column}")
        far = F.abs(x - y) > F.lit(1e-9) * F.greatest(F.abs(x), F.abs(y), F.lit(1.0))
        return (x.isNull() != y.isNull()) | F.coalesce(far, F.lit(False))

    bad = joined.where(
        F.col("a.n").isNull()
        | F.col("b.n").isNull()
        | (F.col("a.n") != F.col("b.n"))
        | differs("total")
        | differs("mean")
    ).count()
    rows = a.count()
    if bad or rows == 0:
        raise RuntimeError(f"{other} differs from {reference}: {bad} of {rows} rows differ")


def measure(
    spark: SparkSession, source: Path, work: Path, pairs: list[Pair], repeats: int, warmups: int
) -> None:
    variants = [v for p in pairs for v in (p.base, p.ours)]
    targets = {v.name: work / f"out-{i}" for i, v in enumerate(variants)}
    # warm-ups (the JVM compiles the hot paths of both); the timed runs then overwrite an existing
    # output, as in production
    for _ in range(warmups):
        for v in variants:
            v.run(spark, source, targets[v.name])()
    for i in range(repeats):
        for pair in pairs:
            for v in (pair.base, pair.ours) if i % 2 == 0 else (pair.ours, pair.base):
                started = time.perf_counter()
                check = v.run(spark, source, targets[v.name])
                v.times.append(time.perf_counter() - started)
                check()
    reference = targets[variants[0].name]
    for v in variants[1:]:
        _same_rows(spark, reference, targets[v.name])


def report(rows: int, repeats: int, warmups: int, pairs: list[Pair]) -> None:
    print(f"rows: {rows:,}  repeats: {repeats} (median, after {warmups} warm-up runs of each variant)")
    width = max(len(v.name) for p in pairs for v in (p.base, p.ours))
    print(f"{'variant':<{width}} | {'median s':>8} | runs")
    print(f"{'-' * width}-+-{'-' * 8}-+------")
    for pair in pairs:
        for v in (pair.base, pair.ours):
            print(f"{v.name:<{width}} | {v.median():8.2f} | {', '.join(f'{t:.2f}' for t in v.times)}")
    print("outputs: identical rows in every variant")
    print("dataops phases (median s; 'start': plan, lineage START; each phase lasts until the next message):")
    for v in (v for p in pairs for v in (p.base, p.ours) if v.phases is not None):
        assert v.phases is not None
        print(f"  {v.name}: {v.phases.medians(len(v.times))}")
    for pair in pairs:
        verdict = "MET" if pair.ratio() <= TARGET else "NOT MET"
        print(f"{pair.name}: ratio dataops / hand-written {pair.ratio():.3f} (target <= {TARGET}): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmups", type=int, default=2)
    parser.add_argument(
        "--baseline-publish",
        choices=["rename", "rewrite"],
        default="rename",
        help="how the hand-written gated baseline publishes its staged Parquet (see above)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dataops-bench-"))
    rewrite = args.baseline_publish == "rewrite"
    try:
        lineage_dir = work / "lineage"
        lineage_dir.mkdir()
        cheap, gated, gated_lineage = Phases(), Phases(), Phases()
        pairs = [
            Pair(
                "1. cheap path",
                Variant("hand-written PySpark", hand_written),
                Variant("dataops executor", framework(gated=False, phases=cheap), cheap),
            ),
            Pair(
                "2. gated path",
                Variant("hand-written stage+check+publish", hand_written_gated(rewrite=rewrite)),
                Variant("dataops gated (write-audit-publish)", framework(gated=True, phases=gated), gated),
            ),
            Pair(
                "3. gated path, lineage on",
                Variant("hand-written stage+check+publish (2)", hand_written_gated(rewrite=rewrite)),
                Variant(
                    "dataops gated + lineage (file)",
                    framework(gated=True, phases=gated_lineage, lineage_dir=lineage_dir),
                    gated_lineage,
                ),
            ),
        ]
        spark = local_session(master="local[*]", app_name="bench", conf={"spark.sql.shuffle.partitions": "8"})
        source = work / "events"
        generate(spark, source, args.rows)
        measure(spark, source, work, pairs, args.repeats, args.warmups)
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"baseline publish: {args.baseline_publish}")
    report(args.rows, args.repeats, args.warmups, pairs)


if __name__ == "__main__":
    main()
