"""The validation pod's program (runtime-images/validator) and ``dataops check``: validate one
suite's dataset, compare with its history, store result.json and report.html, emit lineage.

Exit code 0 means a verdict was reached (passed or failed: the verdict is in the result);
1 means the validation could not run (unreadable dataset...), with the reason as the message.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from openlineage.client.event_v2 import RunState
from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession

from dataops.api.v1alpha1.dataqualitysuite import DatasetRef, ValidationResult
from dataops.lineage.datasets import path_identity
from dataops.lineage.events import DatasetInfo, LineageEmitter, job_namespace, make_transport
from dataops.plan.validation import ValidationPlan
from dataops.policy.classified import classified_columns
from dataops.quality import anomaly
from dataops.quality.dataset_metrics import hide_values, measure
from dataops.quality.gate import suite_argument_problems, validate_suite
from dataops.quality.report import render_html
from dataops.quality.results import SuiteOutcome, protect_outcome
from dataops.quality.summarize import compact_json, error_result, to_result
from dataops.runtime.error_text import failure_line
from dataops.runtime.hadoop import hadoop_fs

RESULTS_FOLDER = "_dataops_quality"  # Spark readers skip folders starting with an underscore


@dataclass
class ValidationRun:
    result: ValidationResult
    outcome: SuiteOutcome | None
    report_html: str | None


def dataset_identity(dataset: DatasetRef) -> tuple[str, str]:
    if dataset.path is not None:
        return path_identity(dataset.path)
    return "spark_catalog", dataset.table or ""


def results_root(spark: SparkSession, plan: ValidationPlan) -> str | None:
    """spec.resultsPath, else _dataops_quality inside the dataset's folder (next to a single file)."""
    spec = plan.suite_spec()
    if spec.results_path:
        return spec.results_path.rstrip("/")
    if spec.dataset is None or spec.dataset.path is None:
        return None
    path = spec.dataset.path.rstrip("/")
    fs, target = hadoop_fs(spark, path)
    if fs.exists(target) and not fs.getFileStatus(target).isDirectory():
        parent, _, name = path.rpartition("/")
        return f"{parent or '.'}/{RESULTS_FOLDER}/{name}"
    return f"{path}/{RESULTS_FOLDER}"


def read_dataset(spark: SparkSession, dataset: DatasetRef) -> DataFrame:
    if dataset.table is not None:
        return spark.table(dataset.table)
    options = dict(dataset.options)
    if dataset.format.value == "csv":
        options = {"header": "true", "inferSchema": "true", **options}
    return spark.read.format(dataset.format.value).options(**options).load(dataset.path)


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Through Hadoop's FileSystem, so object stores work like local folders."""
    fs, target = hadoop_fs(spark, path)
    stream = fs.create(target, True)
    try:
        stream.write(bytearray(text.encode()))
    finally:
        stream.close()


def _message(exc: BaseException) -> str:
    return failure_line(exc)


def run_validation(
    spark: SparkSession,
    plan: ValidationPlan,
    *,
    run_id: str,
    lineage: LineageEmitter | None = None,
    now: datetime | None = None,
) -> ValidationRun:
    spec = plan.suite_spec()
    started = time.perf_counter()
    when = now or datetime.now(UTC)
    if spec.dataset is None:
        return ValidationRun(
            error_result(run_id=run_id, time=when, error="the suite names no dataset"), None, None
        )
    problems = suite_argument_problems(spec)
    if problems:  # nothing is read: the suite itself is wrong
        return ValidationRun(error_result(run_id=run_id, time=when, error="; ".join(problems)), None, None)
    info = DatasetInfo(*dataset_identity(spec.dataset))
    if lineage is not None:
        lineage.emit(RunState.START, run_id=run_id, inputs=[info], outputs=[], spark_version=spark.version)
    try:
        df = read_dataset(spark, spec.dataset)
        info.fields = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
        outcome = validate_suite(df, spec)
        measured = measure(df, spec)
        protected = classified_columns(df.columns, plan.classified())
    except (PySparkException, OSError) as exc:
        result = error_result(run_id=run_id, time=when, error=f"dataset {info.name}: {_message(exc)}")
        if lineage is not None:
            lineage.emit(RunState.FAIL, run_id=run_id, inputs=[info], outputs=[], error=result.error)
        return ValidationRun(result, None, None)
    outcome.results += anomaly.evaluate(spec.anomalies, measured.metrics, plan.history_metrics(), now=when)
    if protected:  # no value of a classified column in results, report, status or lineage
        outcome = SuiteOutcome([protect_outcome(o, protected) for o in outcome.results])
        measured = hide_values(measured, protected)
    root = results_root(spark, plan)
    report_path = f"{root}/{run_id}/report.html" if root else None
    result = to_result(
        outcome,
        run_id=run_id,
        time=when,
        duration_seconds=time.perf_counter() - started,
        metrics=measured.metrics,
        report_path=report_path,
    )
    html = render_html(
        suite=plan.suite, namespace=plan.namespace, dataset=info.name, result=result, outcomes=outcome.results
    )
    if root:
        try:
            write_text(spark, f"{root}/{run_id}/result.json", json.dumps(result.to_json(), indent=2))
            write_text(spark, f"{root}/{run_id}/report.html", html)
        except Py4JJavaError as exc:  # the verdict stands; only the stored copy is missing
            print(f"warning: could not store results under {root}: {_message(exc)}", file=sys.stderr)
            result = result.model_copy(update={"report_path": None})
    if lineage is not None:
        info.assertions = [(o.type, o.success, o.column, o.severity) for o in outcome.results]
        info.row_count_evaluated = measured.metrics.row_count
        info.column_metrics = {c: m.to_facet() for c, m in measured.columns.items()}
        lineage.emit(RunState.COMPLETE, run_id=run_id, inputs=[info], outputs=[])
    return ValidationRun(result, outcome, html)


def suite_emitter(plan: ValidationPlan, transport: str) -> LineageEmitter:
    """The lineage of a suite's standalone validations: job ``<suite>`` in ``dataops://<namespace>``."""
    return LineageEmitter(
        make_transport(transport),
        job_namespace=job_namespace(plan.namespace),
        job_name=plan.suite,
        job_type="VALIDATION",
    )


def main() -> int:
    from dataops.runtime.session import local_session

    plan = ValidationPlan.model_validate_json(
        Path(os.environ.get("DATAOPS_VALIDATION_PLAN", "/etc/dataops/validation/plan.json")).read_text()
    )
    run_id = os.environ.get("DATAOPS_RUN_ID", "manual")
    spark = local_session(
        master=os.environ.get("DATAOPS_SPARK_MASTER", "local[*]"),
        app_name=f"dataops-validate-{plan.suite}",
        conf={"spark.driver.memory": os.environ.get("DATAOPS_DRIVER_MEMORY", "1g")},
    )
    lineage = suite_emitter(plan, os.environ.get("DATAOPS_LINEAGE_TRANSPORT", "console"))
    run = run_validation(spark, plan, run_id=run_id, lineage=lineage)
    print(json.dumps(run.result.to_json(), indent=2), flush=True)
    # The kubelet copies this file into the pod's termination message, where the operator reads it.
    termination = Path(os.environ.get("DATAOPS_TERMINATION_LOG", "/dev/termination-log"))
    if termination.parent.exists():
        with contextlib.suppress(OSError):
            termination.write_text(compact_json(run.result))
    spark.stop()
    return 1 if run.result.error else 0


if __name__ == "__main__":
    sys.exit(main())
