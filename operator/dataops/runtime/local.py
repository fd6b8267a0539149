"""`dataops run`: one pipeline, locally, with Spark in local mode. No cluster needed."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, PiiColumn
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.plan.runplan import RunPlan, build_run_plan
from dataops.plan.sql_guard import check_steps
from dataops.policy.selectors import selector_matches
from dataops.runtime.errors import RunError
from dataops.runtime.spark_job import QualityGateRunner, execute_plan
from dataops.runtime.streaming import StreamingRun, StreamingSettings
from dataops.runtime.summary import RunSummary

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run_pipeline(
    pipeline: DataPipeline,
    *,
    master: str = "local[*]",
    lineage_transport: str = "none",
    run_id: str | None = None,
    gate_runner: QualityGateRunner | None = None,
    quiet: bool = False,
    streaming: StreamingSettings | None = None,
    pii_columns: list[PiiColumn] | None = None,
) -> tuple[RunSummary, LineageEmitter]:
    """A Batch pipeline runs once; a Streaming one runs until interrupted (Ctrl-C), until
    ``streaming.max_batches`` micro-batches or, with ``available_now``, until the topic is drained."""
    from dataops.runtime.session import local_session

    errors = check_steps(pipeline.spec)
    if errors:
        raise ValueError("; ".join(str(e) for e in errors))
    name = pipeline.metadata.name
    plan = build_run_plan(
        name=name,
        namespace=pipeline.metadata.namespace or "default",
        spec=pipeline.spec,
        pii_columns=pii_columns,
    )
    run_id = run_id or f"local-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    progress("starting Spark")
    spark = local_session(master=master, app_name=f"dataops-{name}", conf=pipeline.spec.spark.spark_conf)
    lineage = LineageEmitter(
        make_transport(lineage_transport),
        job_namespace=plan.namespace,
        job_name=name,
        sql=";\n".join(s.sql for s in plan.steps),
    )
    if plan.mode == "Streaming":
        summary = _run_streaming(spark, plan, run_id, streaming or StreamingSettings(), progress)
    else:
        summary = execute_plan(
            spark, plan, run_id=run_id, lineage=lineage, gate_runner=gate_runner, progress=progress
        )
    progress(f"run {summary.outcome.lower()}")
    return summary, lineage


def _run_streaming(
    spark: SparkSession,
    plan: RunPlan,
    run_id: str,
    settings: StreamingSettings,
    progress: Callable[[str], None],
) -> RunSummary:
    stop = threading.Event()

    def report(status: dict[str, object]) -> None:
        fields = ", ".join(f"{k}={v}" for k, v in status.items() if k != "state")
        progress(f"streaming {str(status.get('state', '')).lower()}: {fields}")

    try:
        run = StreamingRun(spark, plan, run_id=run_id, settings=settings)
    except RunError as exc:
        return RunSummary.failed(plan.pipeline, run_id, str(exc))
    progress(f"streaming topic {run.kafka.topic}, checkpoint {run.checkpoint} (Ctrl-C stops)")
    results: list[RunSummary] = []
    worker = threading.Thread(target=lambda: results.append(run.run(progress=report, stop=stop)), daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        progress("interrupted: stopping after the current micro-batch")
        stop.set()
        worker.join()
    return results[0]


def load_pipeline(paths: list[Path]) -> tuple[DataPipeline, dict[str, DataQualitySuiteSpec]]:
    """The one DataPipeline in ``paths`` and the DataQualitySuites found beside it."""
    from dataops.manifests import read_documents

    docs = [d.body for d in read_documents(paths) if isinstance(d.body, dict)]
    pipelines = [d for d in docs if d.get("kind") == "DataPipeline"]
    if len(pipelines) != 1:
        where = ", ".join(map(str, paths))
        raise ValueError(f"expected exactly one DataPipeline in {where} (found {len(pipelines)})")
    suites = {
        d["metadata"]["name"]: DataQualitySuiteSpec.model_validate(d["spec"])
        for d in docs
        if d.get("kind") == "DataQualitySuite"
    }
    return DataPipeline.model_validate(pipelines[0]), suites


def selected_pii_columns(paths: list[Path], pipeline: DataPipeline) -> list[PiiColumn]:
    """The piiColumns of the DataPolicies in ``paths`` that select ``pipeline`` (by its labels),
    as the operator would put them into the run plan."""
    from dataops.manifests import read_documents

    found: list[PiiColumn] = []
    for doc in read_documents(paths):
        if isinstance(doc.body, dict) and doc.body.get("kind") == "DataPolicy":
            policy = DataPolicySpec.model_validate(doc.body.get("spec") or {})
            if selector_matches(policy.pipeline_selector, pipeline.metadata.labels):
                found += policy.pii_columns
    return found
