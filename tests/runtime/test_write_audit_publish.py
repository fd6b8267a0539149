"""Write-audit-publish on real Spark: with quality gates the sinks' output is staged, the gates check
the staged data, and only then is it published; a failed gate publishes nothing and keeps the
staged rows as quarantine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.plan.runplan import build_run_plan
from dataops.quality.gate import SuiteGateRunner
from dataops.runtime.spark_job import _clip, _gate_runner, execute_plan
from dataops.runtime.summary import RunSummary


def _input(tmp: Path, amounts: list[float]) -> Path:
    path = tmp / f"orders-{len(list(tmp.glob('orders-*.csv')))}.csv"
    path.write_text("order_id,amount\n" + "".join(f"{i},{a}\n" for i, a in enumerate(amounts)))
    return path


SELECT_ALL = "SELECT order_id, amount FROM orders"


def _run(
    spark: SparkSession,
    tmp: Path,
    source: Path,
    *,
    action: str = "block",
    run_id: str,
    gates: list[dict[str, Any]] | None = None,
    sql: str = SELECT_ALL,
    extra_sinks: tuple[dict[str, Any], ...] = (),
    staging_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
    **sink: Any,
) -> RunSummary:
    spec: dict[str, Any] = {
        "sources": [
            {
                "name": "orders",
                "file": {
                    "path": str(source),
                    "format": "csv",
                    "options": {"header": "true", "inferSchema": "true"},
                },
            }
        ],
        "transforms": [{"name": "clean", "sql": sql}],
        "qualityGates": gates or [{"suiteRef": {"name": "amounts"}, "action": action}],
        "sinks": [{"name": "lake", "from": "clean", "path": str(tmp / "lake"), **sink}, *extra_sinks],
    }
    if staging_path is not None:
        spec["stagingPath"] = str(staging_path)
    pipeline = DataPipeline.model_validate({"metadata": {"name": "wap", "namespace": "test"}, "spec": spec})
    suite = DataQualitySuiteSpec.model_validate(
        {
            "expectations": [
                {
                    "type": "expect_column_values_to_be_between",
                    "column": "amount",
                    "minValue": 0,
                    "maxValue": 100,
                }
            ]
        }
    )
    plan = build_run_plan(name="wap", namespace="test", spec=pipeline.spec)
    lineage = LineageEmitter(make_transport("none"), job_namespace="test", job_name="wap")
    return execute_plan(
        spark,
        plan,
        run_id=run_id,
        lineage=lineage,
        gate_runner=SuiteGateRunner({"amounts": suite}),
        **({"progress": progress} if progress is not None else {}),
    )


def _amounts(spark: SparkSession, path: Path, fmt: str) -> list[float]:
    return sorted(r["amount"] for r in spark.read.format(fmt).load(str(path)).collect())


def test_failed_gate_publishes_nothing_and_quarantines_the_staged_rows(
    spark: SparkSession, tmp_path: Path
) -> None:
    good = _run(
        spark, tmp_path, _input(tmp_path, [1.0, 2.0, 3.0]), run_id="r1", format="delta", mode="overwrite"
    )
    assert good.outcome == "Succeeded", good.error
    assert good.rows_written == {"lake": 3}
    assert _amounts(spark, tmp_path / "lake", "delta") == [1.0, 2.0, 3.0]
    assert not (tmp_path / "lake.__staging").exists()  # staging removed after publishing

    bad = _run(
        spark,
        tmp_path,
        _input(tmp_path, [5.0, 500.0, -1.0, 7.0]),
        run_id="r2",
        format="delta",
        mode="overwrite",
    )
    assert bad.outcome == "Failed" and bad.error is not None
    assert bad.error.startswith(
        "quality gate 'amounts on clean': 1 expectation(s) failed, nothing was written"
    )
    assert "expect_column_values_to_be_between(amount): 2 unexpected" in bad.error
    quarantine = tmp_path / "lake.__staging" / "r2"
    assert bad.quarantine == {"lake": str(quarantine)} and str(quarantine) in bad.error
    assert _amounts(spark, quarantine, "parquet") == [-1.0, 5.0, 7.0, 500.0]  # exactly the staged rows
    assert _amounts(spark, tmp_path / "lake", "delta") == [1.0, 2.0, 3.0]  # the published table is untouched
    assert bad.rows_written == {}


def test_warn_gate_publishes_and_reports(spark: SparkSession, tmp_path: Path) -> None:
    summary = _run(
        spark,
        tmp_path,
        _input(tmp_path, [5.0, 500.0]),
        action="warn",
        run_id="r1",
        format="parquet",
        mode="append",
    )
    assert summary.outcome == "Succeeded" and summary.quarantine == {}
    assert summary.warnings and "expect_column_values_to_be_between(amount)" in summary.warnings[0]
    assert _amounts(spark, tmp_path / "lake", "parquet") == [5.0, 500.0]
    assert summary.rows_written == {"lake": 2}


def test_file_overwrite_is_swapped_in_and_merge_publishes(spark: SparkSession, tmp_path: Path) -> None:
    first = _run(
        spark, tmp_path, _input(tmp_path, [1.0, 2.0]), run_id="r1", format="parquet", mode="overwrite"
    )
    second = _run(spark, tmp_path, _input(tmp_path, [9.0]), run_id="r2", format="parquet", mode="overwrite")
    assert first.outcome == second.outcome == "Succeeded"
    assert _amounts(spark, tmp_path / "lake", "parquet") == [9.0]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("lake")) == ["lake"]  # no leftovers
    (tmp_path / "m").mkdir()
    merged = _run(
        spark,
        tmp_path / "m",
        _input(tmp_path / "m", [4.0, 8.0]),
        run_id="r3",
        format="delta",
        mode="merge",
        mergeKeys=["order_id"],
    )
    assert merged.outcome == "Succeeded", merged.error
    assert _amounts(spark, tmp_path / "m" / "lake", "delta") == [4.0, 8.0]


def test_default_gate_checks_every_sink_and_a_failed_first_run_creates_no_target(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = tmp_path / "staging"
    archive = {"name": "archive", "from": "orders", "path": str(tmp_path / "archive"), "format": "json"}
    bad = _run(
        spark,
        tmp_path,
        _input(tmp_path, [1.0, 2.0, 300.0]),
        run_id="r1",
        sql="SELECT order_id, amount FROM orders WHERE amount < 100",  # lake's data passes, archive's not
        extra_sinks=(archive,),
        staging_path=root,
    )
    assert bad.outcome == "Failed" and bad.error is not None
    assert bad.error.startswith("quality gate 'amounts on orders': 1 expectation(s) failed")
    kept = {"lake": str(root / "r1" / "lake"), "archive": str(root / "r1" / "archive")}
    assert bad.quarantine == kept and bad.to_json()["quarantine"] == kept
    assert _amounts(spark, root / "r1" / "lake", "parquet") == [1.0, 2.0]
    assert _amounts(spark, root / "r1" / "archive", "parquet") == [1.0, 2.0, 300.0]
    assert not (tmp_path / "lake").exists() and not (tmp_path / "archive").exists()

    good = _run(
        spark,
        tmp_path,
        _input(tmp_path, [4.0, 5.0]),
        run_id="r2",
        extra_sinks=(archive,),
        staging_path=root,
    )
    assert good.outcome == "Succeeded", good.error
    assert good.rows_written == {"lake": 2, "archive": 2} and good.quarantine == {}
    assert _amounts(spark, tmp_path / "archive", "json") == [4.0, 5.0]
    assert sorted(p.name for p in root.iterdir()) == ["r1"]  # r2's staging is gone, r1's quarantine kept


def test_a_gate_on_a_source_checks_that_view(spark: SparkSession, tmp_path: Path) -> None:
    summary = _run(
        spark,
        tmp_path,
        _input(tmp_path, [1.0, 250.0, 3.0]),
        run_id="r1",
        sql="SELECT order_id, amount FROM orders WHERE amount <= 100",
        gates=[
            {"suiteRef": {"name": "amounts"}, "dataset": "clean"},  # the staged sink data: passes
            {"suiteRef": {"name": "amounts"}, "dataset": "orders", "action": "warn"},  # the raw source
        ],
        format="parquet",
    )
    assert summary.outcome == "Succeeded", summary.error
    assert len(summary.warnings) == 1 and "amounts on orders" in summary.warnings[0]
    assert "250.0" in summary.warnings[0]
    assert _amounts(spark, tmp_path / "lake", "parquet") == [1.0, 3.0]
    assert not (tmp_path / "lake.__staging").exists()


def test_a_failing_input_gate_stops_the_run_before_anything_is_staged(
    spark: SparkSession, tmp_path: Path
) -> None:
    """A gate on a source runs as soon as the source exists: its failure costs no sink staging, and
    there is no quarantine to keep (nothing derived from the bad input was written anywhere)."""
    progress: list[str] = []
    summary = _run(
        spark,
        tmp_path,
        _input(tmp_path, [1.0, 250.0, 3.0]),
        run_id="r1",
        sql="SELECT order_id, amount FROM orders WHERE amount <= 100",
        gates=[
            {"suiteRef": {"name": "amounts"}, "dataset": "clean"},  # on the sink data: never reached
            {"suiteRef": {"name": "amounts"}, "dataset": "orders"},  # the raw source: fails, blocks
        ],
        format="parquet",
        progress=progress.append,
    )
    assert summary.outcome == "Failed" and summary.error is not None
    assert summary.error.startswith("quality gate 'amounts on orders': 1 expectation(s) failed"), (
        summary.error
    )
    assert "quarantine" not in summary.error and summary.quarantine == {}
    assert not (tmp_path / "lake.__staging").exists() and not (tmp_path / "lake").exists()
    gates_run = [p for p in progress if p.startswith("quality gate")]
    assert gates_run == ["quality gate amounts on orders"], progress
    assert not any(p.startswith("staging") for p in progress), progress


def test_the_driver_pod_runs_the_gates_of_its_plan_and_keeps_the_quarantine_in_its_message() -> None:
    spec = DataPipeline.model_validate(
        {
            "metadata": {"name": "wap", "namespace": "test"},
            "spec": {
                "sources": [{"name": "orders", "file": {"path": "/data/orders", "format": "parquet"}}],
                "qualityGates": [{"suiteRef": {"name": "amounts"}}],
                "sinks": [{"name": "lake", "from": "orders", "path": "/lake"}],
            },
        }
    ).spec
    suite = {"expectations": [{"type": "expect_table_row_count_to_equal", "value": 1}]}
    runner = _gate_runner(build_run_plan(name="wap", namespace="test", spec=spec, suites={"amounts": suite}))
    assert isinstance(runner, SuiteGateRunner) and list(runner.suites) == ["amounts"]
    assert (
        _gate_runner(
            build_run_plan(name="wap", namespace="test", spec=spec.model_copy(update={"quality_gates": []}))
        )
        is None
    )
    error = "quality gate 'amounts on orders': " + "x" * 5000 + "; staged data kept as quarantine (lake: /q)"
    clipped = _clip(error)
    assert len(clipped) == 4000 and clipped.startswith("quality gate 'amounts on orders'")
    assert clipped.endswith("quarantine (lake: /q)") and _clip("short") == "short"


def test_a_staged_parquet_overwrite_is_published_by_renaming_it(spark: SparkSession, tmp_path: Path) -> None:
    """An unpartitioned Parquet overwrite publishes the staged files themselves (no second write):
    the sink's part files are exactly the staged ones, the rows are counted, and a later run replaces
    them whole. A partitioned one is written again (the staged folder has no partitions)."""
    staged_files: list[str] = []

    def remember_staged(message: str) -> None:
        if message.startswith("publishing sink lake"):
            staged_files.extend(sorted(p.name for p in (tmp_path / "lake.__staging" / "r1").glob("part-*")))

    first = _run(
        spark,
        tmp_path,
        _input(tmp_path, [1.0, 2.0, 3.0]),
        run_id="r1",
        mode="overwrite",
        progress=remember_staged,
    )
    assert first.outcome == "Succeeded", first.error
    assert first.rows_written == {"lake": 3}
    assert staged_files and sorted(p.name for p in (tmp_path / "lake").glob("part-*")) == staged_files
    assert (tmp_path / "lake" / "_SUCCESS").exists() and not (tmp_path / "lake.__staging").exists()
    assert _amounts(spark, tmp_path / "lake", "parquet") == [1.0, 2.0, 3.0]

    second = _run(spark, tmp_path, _input(tmp_path, [9.0]), run_id="r2", mode="overwrite")
    assert second.outcome == "Succeeded" and second.rows_written == {"lake": 1}
    assert _amounts(spark, tmp_path / "lake", "parquet") == [9.0]

    partitioned = _run(
        spark,
        tmp_path,
        _input(tmp_path, [4.0, 5.0]),
        run_id="r3",
        mode="overwrite",
        partitionBy=["order_id"],
    )
    assert partitioned.outcome == "Succeeded" and partitioned.rows_written == {"lake": 2}
    assert sorted(p.name for p in (tmp_path / "lake").glob("order_id=*")) == ["order_id=0", "order_id=1"]
    assert _amounts(spark, tmp_path / "lake", "parquet") == [4.0, 5.0]
