"""`dataops run`: one pipeline, locally, with Spark in local mode. No cluster needed."""

from __future__ import annotations

import base64
import binascii
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import DataPolicy, DataPolicySpec
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.events import LineageEmitter
from dataops.plan.runplan import RunPlan, build_run_plan
from dataops.plan.sql_guard import check_steps
from dataops.policy.masking import masking_rules
from dataops.policy.quarantine import quarantine_refusals
from dataops.policy.selectors import selecting_policies
from dataops.runtime.errors import RunError
from dataops.runtime.masking import resolve_keys
from dataops.runtime.spark_job import QualityGateRunner, execute_plan, pipeline_emitter
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
    governance: Governance | None = None,
) -> tuple[RunSummary, LineageEmitter]:
    """A Batch pipeline runs once; a Streaming one runs until interrupted (Ctrl-C), until
    ``streaming.max_batches`` micro-batches or, with ``available_now``, until the topic is drained.
    ``governance``: the DataPolicies and Secrets given beside the pipeline; a masking key that is
    missing fails with ValueError before Spark starts."""
    from dataops.runtime.session import local_session

    errors = check_steps(pipeline.spec)
    if errors:
        raise ValueError("; ".join(str(e) for e in errors))
    name = pipeline.metadata.name
    governance = governance or Governance()
    selecting = governance.selecting(pipeline)
    rules = masking_rules(selecting)
    refused = quarantine_refusals(pipeline.spec.sources, rules)
    if refused:  # raw malformed records would keep classified values in clear
        raise ValueError("; ".join(f"{path}: {why}" for path, why in refused))
    try:
        keys = resolve_keys(rules, secrets=governance.secrets)
    except RunError as exc:
        raise ValueError(str(exc)) from exc
    plan = build_run_plan(
        name=name,
        namespace=pipeline.metadata.namespace or "default",
        spec=pipeline.spec,
        masking=rules,
        pii_columns=[column for _, policy in selecting for column in policy.pii_columns],
    )
    run_id = run_id or f"local-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()

    def progress(message: str) -> None:
        if not quiet:
            print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    progress("starting Spark")
    spark = local_session(master=master, app_name=f"dataops-{name}", conf=pipeline.spec.spark.spark_conf)
    spark_start = time.monotonic() - started
    lineage = pipeline_emitter(plan, lineage_transport)
    if plan.mode == "Streaming":
        summary = _run_streaming(
            spark, plan, run_id, streaming or StreamingSettings(), progress, keys, lineage
        )
    else:
        summary = execute_plan(
            spark,
            plan,
            run_id=run_id,
            lineage=lineage,
            gate_runner=gate_runner,
            progress=progress,
            masking_keys=keys,
        )
    summary.spark_start_seconds = spark_start
    progress(f"run {summary.outcome.lower()}")
    return summary, lineage


def _run_streaming(
    spark: SparkSession,
    plan: RunPlan,
    run_id: str,
    settings: StreamingSettings,
    progress: Callable[[str], None],
    keys: dict[tuple[str, str], bytes],
    lineage: LineageEmitter | None = None,
) -> RunSummary:
    stop = threading.Event()

    def report(status: dict[str, object]) -> None:
        fields = ", ".join(f"{k}={v}" for k, v in status.items() if k != "state")
        progress(f"streaming {str(status.get('state', '')).lower()}: {fields}")

    try:
        run = StreamingRun(spark, plan, run_id=run_id, settings=settings, masking_keys=keys, lineage=lineage)
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
    pipeline = DataPipeline.model_validate(pipelines[0])
    missing = [
        f"quality gate {index} ({g.suite_ref.name})"
        for index, g in enumerate(pipeline.spec.quality_gates)
        if g.suite_ref.name not in suites
    ]
    if missing:  # found now, not after Spark has computed every sink
        where = ", ".join(map(str, paths))
        raise ValueError(
            f"{'; '.join(missing)}: DataQualitySuite not found in {where} (pass the file or folder "
            "holding it with -f)"
        )
    return pipeline, suites


@dataclass
class Governance:
    """DataPolicies and Secrets given to ``dataops run`` beside the pipeline."""

    policies: list[tuple[str, str, DataPolicySpec]] = field(default_factory=list)  # (namespace, name, spec)
    secrets: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (secret, key) -> value

    def selecting(self, pipeline: DataPipeline) -> list[tuple[str, DataPolicySpec]]:
        """The policies that select the pipeline: same namespace, matching label selector."""
        namespace = pipeline.metadata.namespace or "default"
        return selecting_policies(namespace, pipeline.metadata.labels or {}, self.policies)


def _secret_values(doc: dict[str, Any]) -> dict[tuple[str, str], bytes]:
    name = str((doc.get("metadata") or {}).get("name") or "")
    values: dict[tuple[str, str], bytes] = {}
    for key, encoded in (doc.get("data") or {}).items():
        try:
            values[(name, str(key))] = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"Secret {name!r}: data.{key} is not base64") from exc
    for key, text in (doc.get("stringData") or {}).items():  # stringData wins, as in the API server
        values[(name, str(key))] = str(text).encode()
    return values


def load_governance(paths: list[Path]) -> Governance:
    """The DataPolicies and Secrets in ``paths``."""
    from dataops.manifests import read_documents

    governance = Governance()
    for doc in (d.body for d in read_documents(paths) if isinstance(d.body, dict)):
        namespace = str((doc.get("metadata") or {}).get("namespace") or "default")
        if doc.get("kind") == "DataPolicy":
            try:
                policy = DataPolicy.model_validate(doc)
            except ValidationError as exc:
                raise ValueError(
                    f"DataPolicy {doc.get('metadata', {}).get('name')!r} is invalid: {exc}"
                ) from exc
            governance.policies.append((namespace, policy.metadata.name, policy.spec))
        elif doc.get("apiVersion") == "v1" and doc.get("kind") == "Secret":
            governance.secrets.update(_secret_values(doc))
    return governance
