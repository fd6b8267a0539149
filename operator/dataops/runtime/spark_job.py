"""Executes a run plan with Spark: sources -> SQL steps -> (quality gates) -> sinks, with lineage.

The same code runs in the driver pod (``python -m dataops.runtime.spark_job``) and in
``dataops run``. Rows written come from an observation on each sink's output (after the query,
so it blocks no optimisation); rows read come from the scans' own SQL metrics. Counting costs
no extra pass over the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from openlineage.client.event_v2 import RunState
from py4j.protocol import Py4JError  # type: ignore[import-untyped]
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from dataops.api.v1alpha1.datapipeline import QualityGate, Sink, SinkFormat, Source, WriteMode
from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.lineage.columns import column_lineage
from dataops.lineage.datasets import sink_identity, source_identity
from dataops.lineage.events import DatasetInfo, LineageEmitter, job_namespace, make_transport
from dataops.plan.runplan import RunPlan
from dataops.policy.classified import unclassified
from dataops.policy.masking import ColumnMasking, UnresolvedDerivation, plan_columns
from dataops.quality.pii import candidate_columns, detect
from dataops.runtime import retention
from dataops.runtime.error_text import failure_line
from dataops.runtime.errors import QualityGateFailed, RunError, SinkError, SourceError, StepError
from dataops.runtime.io import read_source
from dataops.runtime.malformed import MalformedCounts
from dataops.runtime.masking import (
    Keys,
    MaskingError,
    apply_masking,
    check_merge_keys,
    protect_key_literals,
    resolve_keys,
)
from dataops.runtime.model_runs import model_outputs, run_model_step, save_models
from dataops.runtime.publish import (
    discard,
    publish,
    publish_staged,
    publishable_by_rename,
    stage,
    staged,
    staging_location,
)
from dataops.runtime.quarantine import mark_quarantine, sweep
from dataops.runtime.retention import check_retention_column
from dataops.runtime.scan_metrics import execution_count, expression_ids, rows_read, scans_since
from dataops.runtime.spark_logging import scrub_spark_logs
from dataops.runtime.steps import ensure_queries_only
from dataops.runtime.summary import RunSummary

Progress = Callable[[str], None]
TERMINATION_LIMIT = 4000  # bytes the kubelet keeps of a termination message (4096)


class QualityGateRunner(Protocol):
    """Hook for the data quality engine: validate ``df`` for ``gate``; raise QualityGateFailed to block."""

    def __call__(
        self, gate: QualityGate, dataset: str, df: DataFrame, *, protected: Mapping[str, str] | None = None
    ) -> list[str]:
        """Returns warnings (failed warn-severity expectations) to report in the run summary.
        ``protected`` maps classified columns to their classification: their values must not
        appear in what the runner reports."""
        ...

    def assertions(self) -> list[tuple[str, bool, str | None, str]]:
        """The last gate's checks (type, success, column, severity) for the OpenLineage assertions facet."""
        ...


@dataclass
class _Observed:
    observation: Observation | None
    executed: bool = False
    reported: int | None = None  # a count the writer reported itself (wins over the observation)

    def rows(self) -> int | None:
        if self.reported is not None:
            return self.reported
        if not self.executed or self.observation is None:
            return None
        # the one metric, read once (Observation.get copies the JVM's map entry by entry: ~70 calls)
        observed = self.observation._jo
        assert observed is not None  # executed: the observation was attached to the written query
        value = observed.getAsJava().get("rows")
        self.reported = int(value) if value is not None else None
        return self.reported


def _count(df: DataFrame, name: str) -> tuple[DataFrame, Observation]:
    observation = Observation(name)
    return df.observe(observation, F.count(F.lit(1)).alias("rows")), observation


def _message(exc: BaseException) -> str:
    """The first line of the cause (the JVM's own exception for a Py4J error), its values scrubbed:
    an error goes to the summary, status, Events and logs, where no data value may appear."""
    return failure_line(exc)


@contextlib.contextmanager
def naming(error: type[RunError], where: str) -> Iterator[None]:
    """Any Spark, JVM or file-system failure inside becomes ``error`` naming ``where`` (the source or
    sink), with the first line of the cause: one actionable line instead of a JVM traceback."""
    try:
        yield
    except RunError:
        raise
    except (PySparkException, Py4JError, OSError) as exc:
        raise error(where, _message(exc)) from exc


def _fields(df: DataFrame) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in df.schema.fields]


def execute_plan(
    spark: SparkSession,
    plan: RunPlan,
    *,
    run_id: str,
    lineage: LineageEmitter | None = None,
    gate_runner: QualityGateRunner | None = None,
    progress: Progress = lambda _msg: None,
    masking_keys: Keys | None = None,
) -> RunSummary:
    """``masking_keys``: the keys of the plan's masking rules; None reads them from the environment."""
    summary = RunSummary(pipeline=plan.pipeline, run_id=run_id, started=datetime.now(UTC))
    sources = [Source.model_validate(s) for s in plan.sources]
    sinks = [Sink.model_validate(k.spec) for k in plan.sinks]
    gates = [QualityGate.model_validate(g) for g in plan.quality_gates]
    inputs = {s.name: DatasetInfo(*source_identity(s)) for s in sources}
    outputs = {k.name: DatasetInfo(*sink_identity(k)) for k in sinks}
    outputs.update(model_outputs(plan))
    if lineage is not None:
        lineage.emit(
            RunState.START,
            run_id=run_id,
            inputs=list(inputs.values()),
            outputs=list(outputs.values()),
            spark_version=spark.version,
        )
    source_ids: dict[str, set[int]] = {}
    writes: dict[str, _Observed] = {}
    first_execution = execution_count(spark)
    column_lineage_of: dict[str, Future[dict[str, list[tuple[str, str, str]]]]] = {}
    background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataops-lineage")
    staging: dict[str, str] = {}  # sink -> where its output is staged (pipelines with gates)
    staged_outputs: dict[str, _Staged] = {}  # sink -> the rows and schema it staged
    # csv/json records that did not parse, per source (onMalformed); no quarantine of classified columns
    malformed = MalformedCounts(rules=list(plan.masking))
    masking: dict[str, dict[str, ColumnMasking]] = {}  # sink -> column -> its masking
    written: dict[str, DataFrame] = {}  # sink -> the data it was given
    gate_checks: list[_GateCheck] = []  # each gate's verdict on each dataset, for its lineage run
    models = {}  # model step -> its trained model (saved once the gates pass)
    try:
        ensure_queries_only(plan.steps)  # spark.sql runs a command at once: check all steps first
        keys = masking_keys if masking_keys is not None else resolve_keys(plan.masking)
        if plan.masking:
            protect_key_literals(spark)
        for source in sources:
            started = time.perf_counter()
            progress(f"reading source {source.name}")
            with naming(SourceError, source.name):
                df = read_source(spark, source, malformed, run_id=run_id)
            inputs[source.name].fields = _fields(df)
            source_ids[source.name] = expression_ids(df)
            df.createOrReplaceTempView(source.name)
            summary.step_seconds[f"source:{source.name}"] = time.perf_counter() - started
        for step in plan.steps:
            if step.model is not None:
                models[step.name] = run_model_step(spark, step.name, step.model, summary, progress)
                continue
            progress(f"planning step {step.name}")
            try:
                spark.sql(step.sql).createOrReplaceTempView(step.name)
            except (AnalysisException, PySparkException) as exc:
                raise StepError(step.name, _message(exc)) from exc
        masking = _plan_masking(spark, plan, sinks, inputs)
        _record_masking(masking, summary, outputs)

        def output_of(sink: Sink) -> DataFrame:
            return apply_masking(spark.table(sink.from_), masking[sink.name], keys, sink=sink.name)

        # Gates on a source or step no sink publishes run first: a failing input costs no staging.
        early, late = _gates_by_stage(gates, sinks)
        for gate in early:
            protected = _gate_protection(spark, plan, gate, sinks, {}, inputs)
            _check_gate(
                spark, gate, sinks, {}, {}, gate_runner, summary, outputs, progress, protected, gate_checks
            )
        # Write-audit-publish: with gates, each sink's output is staged once and the gates check it.
        if gates and gate_runner is not None:
            _sweep_staging(spark, plan, sinks, run_id=run_id, summary=summary, progress=progress)
            staged_outputs = _stage_sinks(
                plan, sinks, output_of, run_id=run_id, staging=staging, progress=progress
            )
        for gate in late:
            protected = _gate_protection(spark, plan, gate, sinks, staging, inputs)
            _check_gate(
                spark,
                gate,
                sinks,
                staging,
                staged_outputs,
                gate_runner,
                summary,
                outputs,
                progress,
                protected,
                gate_checks,
            )
        save_models(spark, models, summary, outputs, run_id=run_id, progress=progress)
        for sink in sinks:
            started = time.perf_counter()
            progress(f"{'publishing' if staging else 'writing'} sink {sink.name} from {sink.from_}")
            by_rename = sink.name in staging and publishable_by_rename(spark, sink, staging[sink.name])
            # Published by renaming the staged folder, the rows are not read again: the query's own
            # schema names the fields (no footer-reading job).
            reread = sink.name in staging and not by_rename
            df = (
                staged(spark, staging[sink.name], staged_outputs[sink.name].schema)
                if reread
                else output_of(sink)
            )
            outputs[sink.name].fields = _fields(df)
            if lineage is not None:  # parse the SQL for column lineage while Spark writes
                column_lineage_of[sink.name] = background.submit(
                    _column_lineage, plan, inputs, sink, outputs[sink.name].fields
                )
            check_retention_column(sink, df)
            written[sink.name] = df
            if by_rename:
                with naming(SinkError, sink.name):  # the staged folder is the sink's new content
                    publish_staged(spark, sink, staging[sink.name])
                writes[sink.name] = _Observed(None, executed=True, reported=staged_outputs[sink.name].rows)
                merged = None
            else:
                df, observation = _count(df, f"write_{sink.name}")
                writes[sink.name] = _Observed(observation)
                with naming(SinkError, sink.name):
                    # a file overwrite is written beside the target and swapped in, staged or not
                    merged = publish(spark, sink, df, run_id=run_id)
                writes[sink.name].executed = True
            summary.published.append(sink.name)
            if merged is not None:  # a merge's rows written are the rows it inserted or updated
                writes[sink.name].reported = merged.written
                summary.merged[sink.name] = merged.to_json()
            summary.step_seconds[f"sink:{sink.name}"] = time.perf_counter() - started
        summary.outcome = "Succeeded"
        _enforce_retention(spark, sinks, summary, outputs, progress)
        _report_unclassified_pii(spark, plan, sinks, written, writes, summary, progress)
    except RunError as exc:
        summary.outcome, summary.error = "Failed", str(exc)
    except (PySparkException, OSError, Py4JError) as exc:
        summary.outcome, summary.error = "Failed", _message(exc)
    if summary.outcome == "Failed" and summary.published:
        # Sinks are separate commits (Delta, file swaps, JDBC): say exactly what is out there.
        rest = [k.name for k in sinks if k.name not in summary.published]
        summary.warnings.append(
            f"published before the failure (not rolled back): {', '.join(summary.published)}; "
            f"not published: {', '.join(rest) or '-'}"
        )
    if not summary.quarantine:  # published, or failed for another reason than a gate: nothing to keep
        _discard_staging(spark, staging)
    with contextlib.suppress(PySparkException, Py4JError):
        malformed.release()
    summary.finished = datetime.now(UTC)
    summary.rows_read = rows_read(scans_since(spark, first_execution), source_ids)
    summary.rows_written = {name: obs.rows() for name, obs in writes.items()}
    _record_malformed(malformed, summary, inputs, read_through=summary.outcome == "Succeeded")
    if lineage is not None:
        _gate_lineage(lineage, summary, outputs, gate_checks)  # children end before their parent
        _finish_lineage(lineage, summary, inputs, outputs, column_lineage_of)
        if lineage.send_errors:
            summary.warnings.append(
                f"lineage: {len(lineage.send_errors)} event(s) not sent: {lineage.send_errors[0]}"
            )
    background.shutdown(wait=False)
    return summary


def _record_malformed(
    malformed: MalformedCounts, summary: RunSummary, inputs: dict[str, DatasetInfo], *, read_through: bool
) -> None:
    summary.malformed = malformed.to_json(read_through=read_through)
    for source, found in summary.malformed.items():
        inputs[source].malformed = found
        if found["rows"] and found["policy"] != "Fail":
            where = f" to {found['quarantine']}" if "quarantine" in found else ""
            verb = "quarantined" if where else "dropped"
            summary.warnings.append(f"source {source}: {found['rows']:,} malformed record(s) {verb}{where}")


def _sweep_staging(
    spark: SparkSession,
    plan: RunPlan,
    sinks: list[Sink],
    *,
    run_id: str,
    summary: RunSummary,
    progress: Progress,
) -> None:
    """Delete expired quarantine and abandoned staging of earlier runs; list the quarantine kept."""
    try:
        done = sweep(
            spark,
            sinks,
            root=plan.staging_path,
            run_id=run_id,
            retention_days=plan.quarantine_retention_days,
            now=datetime.now(UTC),
        )
    except (PySparkException, Py4JError, OSError) as exc:
        summary.warnings.append(f"staging clean-up failed: {_message(exc)}")
        return
    for location in done.removed:
        progress(f"removed expired quarantine or abandoned staging {location}")
    summary.quarantined = done.kept
    if done.removed:
        summary.warnings.append(
            f"removed {len(done.removed)} expired quarantine or abandoned staging folder(s)"
        )


def _stage_sinks(
    plan: RunPlan,
    sinks: list[Sink],
    output_of: Callable[[Sink], DataFrame],
    *,
    run_id: str,
    staging: dict[str, str],
    progress: Progress,
) -> dict[str, _Staged]:
    """Materialize each sink's output once, as Parquet, where the gates and the publish read it;
    returns the rows and schema staged per sink."""
    staged_outputs = {}
    for sink in sinks:
        staging[sink.name] = staging_location(plan.staging_path, sink, pipeline=plan.pipeline, run_id=run_id)
        progress(f"staging sink {sink.name} at {staging[sink.name]}")
        counted, observation = _count(output_of(sink), f"stage_{sink.name}")
        stage(counted, staging[sink.name])
        observed = _Observed(observation, executed=True)
        staged_outputs[sink.name] = _Staged(observed.rows() or 0, counted.schema)
    return staged_outputs


def _discard_staging(spark: SparkSession, staging: dict[str, str]) -> None:
    for location in staging.values():
        with contextlib.suppress(PySparkException, OSError, Py4JError):
            discard(spark, location)


@dataclass(frozen=True)
class _Staged:
    """A sink's staged output: its rows, and its schema (read back with it, no footer is read)."""

    rows: int
    schema: StructType


@dataclass
class _GateCheck:
    """One gate's check of one dataset: the child run the pipeline run's lineage reports."""

    suite: str
    sinks: list[str]
    assertions: list[tuple[str, bool, str | None, str]]
    error: str | None  # the blocking failure, None when the gate let the data through


@dataclass
class _GateTarget:
    dataset: str
    data: DataFrame
    sinks: list[str]  # the sinks that publish this data (their lineage gets the assertions)
    staged: bool


def _gate_targets(
    spark: SparkSession,
    gate: QualityGate,
    sinks: list[Sink],
    staging: dict[str, str],
    staged_outputs: Mapping[str, _Staged],
) -> list[_GateTarget]:
    """What a gate validates: its dataset, or by default the data of each sink; staged data when
    a sink publishes that dataset, otherwise the source or step view itself."""
    datasets = [gate.dataset] if gate.dataset else list(dict.fromkeys(k.from_ for k in sinks))
    targets = []
    for dataset in datasets:
        feeding = [k.name for k in sinks if k.from_ == dataset]
        staged_sink = next((name for name in feeding if name in staging), None)
        data = (
            staged(spark, staging[staged_sink], staged_outputs[staged_sink].schema)
            if staged_sink
            else spark.table(dataset)
        )
        targets.append(
            _GateTarget(dataset, data, feeding or [k.name for k in sinks], staged_sink is not None)
        )
    return targets


def _gates_by_stage(
    gates: list[QualityGate], sinks: list[Sink]
) -> tuple[list[QualityGate], list[QualityGate]]:
    """(gates on a source or step no sink publishes: they run as soon as the views exist, before
    any sink is staged; gates on the data sinks publish: they check the staged output)."""
    published = {k.from_ for k in sinks}
    early = [g for g in gates if g.dataset and g.dataset not in published]
    return early, [g for g in gates if g not in early]


def _check_gate(
    spark: SparkSession,
    gate: QualityGate,
    sinks: list[Sink],
    staging: dict[str, str],
    staged_outputs: Mapping[str, _Staged],
    gate_runner: QualityGateRunner | None,
    summary: RunSummary,
    outputs: dict[str, DatasetInfo],
    progress: Progress,
    protected: dict[str, dict[str, str]] | None = None,
    checks: list[_GateCheck] | None = None,
) -> None:
    """Validate a gate's data; a blocking failure keeps all staged data as quarantine and re-raises.
    ``protected``: per dataset, the classified columns whose values the results must not show.
    ``checks`` collects each target's verdict (for the gate's lineage run)."""
    if gate_runner is None:
        summary.warnings.append(
            f"quality gate {gate.suite_ref.name} on {gate.dataset or 'sink data'} not evaluated: "
            "no quality engine configured"
        )
        return
    for target in _gate_targets(spark, gate, sinks, staging, staged_outputs):
        progress(f"quality gate {gate.suite_ref.name} on {target.dataset}" + " (staged)" * target.staged)
        failure: str | None = None
        try:
            hidden = (protected or {}).get(target.dataset)
            if hidden and not target.staged:
                summary.warnings += gate_runner(gate, target.dataset, target.data, protected=hidden)
            else:  # staged data is masked already
                summary.warnings += gate_runner(gate, target.dataset, target.data)
        except QualityGateFailed as exc:
            failure = str(exc)
            summary.quarantine = dict(staging)
            for location in staging.values():
                with contextlib.suppress(PySparkException, Py4JError, OSError):
                    mark_quarantine(spark, location)
            if not staging:  # an input gate: it ran before anything was staged
                raise
            kept = ", ".join(f"{name}: {where}" for name, where in staging.items())
            raise QualityGateFailed(
                exc.where, f"{exc.message}; staged data kept as quarantine ({kept})"
            ) from exc
        finally:  # the assertions describe the data each sink publishes (or would have)
            checked = gate_runner.assertions()
            for name in target.sinks:
                outputs[name].assertions += checked
            if checks is not None:
                checks.append(_GateCheck(gate.suite_ref.name, target.sinks, list(checked), failure))


def _source_columns(inputs: dict[str, DatasetInfo]) -> dict[str, list[str]]:
    return {name: [n for n, _ in info.fields] for name, info in inputs.items()}


def _plan_masking(
    spark: SparkSession, plan: RunPlan, sinks: list[Sink], inputs: dict[str, DatasetInfo]
) -> dict[str, dict[str, ColumnMasking]]:
    """Each sink's column masking, decided before anything is staged or written."""
    steps = {s.name: s.sql for s in plan.steps}
    decided: dict[str, dict[str, ColumnMasking]] = {}
    for sink in sinks:
        try:
            decided[sink.name] = plan_columns(
                rules=plan.masking,
                sink=sink.name,
                output_columns=spark.table(sink.from_).columns if plan.masking else [],
                from_=sink.from_,
                steps=steps,
                source_columns=_source_columns(inputs),
            )
        except UnresolvedDerivation as exc:
            raise MaskingError(sink.name, str(exc)) from exc
        check_merge_keys(sink, decided[sink.name])
    return decided


def _record_masking(
    masking: dict[str, dict[str, ColumnMasking]], summary: RunSummary, outputs: dict[str, DatasetInfo]
) -> None:
    for sink, columns in masking.items():
        if columns:
            summary.masked[sink] = {c: d.reason() for c, d in columns.items()}
        outputs[sink].masking = {
            c: (d.rule.method.value, d.rule.classification, d.reason()) for c, d in columns.items()
        }


def _gate_protection(
    spark: SparkSession,
    plan: RunPlan,
    gate: QualityGate,
    sinks: list[Sink],
    staging: dict[str, str],
    inputs: dict[str, DatasetInfo],
) -> dict[str, dict[str, str]]:
    """Per dataset a gate reads unmasked (a source or step no staged sink publishes): the columns
    whose values its results must not show. Untraceable columns are protected too."""
    if not plan.masking:
        return {}
    datasets = [gate.dataset] if gate.dataset else list(dict.fromkeys(k.from_ for k in sinks))
    protected: dict[str, dict[str, str]] = {}
    for dataset in datasets:
        if any(k.from_ == dataset and k.name in staging for k in sinks):
            continue
        decided = plan_columns(
            rules=plan.masking,
            sink=dataset,
            output_columns=spark.table(dataset).columns,
            from_=dataset,
            steps={s.name: s.sql for s in plan.steps},
            source_columns=_source_columns(inputs),
            refuse_unresolved=False,
        )
        protected[dataset] = {c: d.rule.classification for c, d in decided.items() if d.masked}
    return protected


def _enforce_retention(
    spark: SparkSession,
    sinks: list[Sink],
    summary: RunSummary,
    outputs: dict[str, DatasetInfo],
    progress: Progress,
) -> None:
    """After a successful run: delete what each sink keeps longer than its retentionDays."""
    for sink in sinks:
        if not retention.applies(sink):
            continue
        progress(f"retention on sink {sink.name}: {sink.retention_days} days by {sink.retention_column}")
        done = retention.enforce(spark, sink).to_json()
        summary.retention[sink.name] = done
        outputs[sink.name].retention = done
        if done.get("error"):
            summary.warnings.append(f"retention on sink {sink.name} failed: {done['error']}")


def _published_sample_source(
    spark: SparkSession, sink: Sink, written: DataFrame, rows: int | None
) -> tuple[DataFrame, int | None]:
    """Where the detectors' sample is read from, and how many rows it holds if that is known: the
    published files of a Parquet or Delta sink this run overwrote whole (they hold exactly this
    run's ``rows``), not the query that wrote them, which a ``limit`` over an aggregation or a join
    would compute again in full. Other sinks (appends and merges keep older rows, which may lack
    this run's columns): the written DataFrame, its size unknown."""
    whole = sink.mode == WriteMode.OVERWRITE and not sink.partition_by
    if not whole or sink.path is None or sink.format not in (SinkFormat.PARQUET, SinkFormat.DELTA):
        return written, None
    try:
        if sink.format == SinkFormat.PARQUET:  # the files hold the written schema: no footer to read
            return spark.read.schema(written.schema).parquet(sink.path), rows
        return spark.read.format(sink.format.value).load(sink.path), rows
    except (PySparkException, Py4JError):
        return written, None


def _report_unclassified_pii(
    spark: SparkSession,
    plan: RunPlan,
    sinks: list[Sink],
    written: dict[str, DataFrame],
    writes: dict[str, _Observed],
    summary: RunSummary,
    progress: Progress,
) -> None:
    """Columns written to a sink that look like personal data but no selecting DataPolicy
    classifies: a warning (names, classifications and ratios only, never values)."""
    entries = [PiiColumn.model_validate(c) for c in plan.pii_columns]
    for sink in sinks:
        df = written.get(sink.name)
        if df is None:
            continue
        columns = unclassified(candidate_columns(df), entries)
        if not columns:
            continue
        progress(f"looking for unclassified personal data in sink {sink.name}")
        try:
            df, rows = _published_sample_source(spark, sink, df, writes[sink.name].rows())
            found = detect(df, columns=columns, rows=rows)
        except (PySparkException, Py4JError) as exc:
            summary.warnings.append(f"personal-data detection on sink {sink.name} failed: {_message(exc)}")
            continue
        for d in found:
            summary.unclassified_pii.append(
                {
                    "sink": sink.name,
                    "column": d.column,
                    "classification": d.classification.value,
                    "ratio": d.ratio,
                }
            )
            summary.warnings.append(
                f"sink {sink.name} column {d.column!r} looks like {d.classification.value} "
                f"({d.ratio:.0%} of {d.sampled} sampled values) but no DataPolicy classifies it"
            )


def _column_lineage(
    plan: RunPlan, inputs: dict[str, DatasetInfo], sink: Sink, fields: list[tuple[str, str]]
) -> dict[str, list[tuple[str, str, str]]]:
    mapping = column_lineage(
        output_columns=[n for n, _ in fields],
        from_=sink.from_,
        steps={s.name: s.sql for s in plan.steps},
        source_columns={name: [n for n, _ in info.fields] for name, info in inputs.items()},
    )
    return {
        column: [(inputs[src].namespace, inputs[src].name, col) for src, col in pairs]
        for column, pairs in mapping.items()
    }


def _finish_lineage(
    lineage: LineageEmitter,
    summary: RunSummary,
    inputs: dict[str, DatasetInfo],
    outputs: dict[str, DatasetInfo],
    column_lineage_of: dict[str, Future[dict[str, list[tuple[str, str, str]]]]],
) -> None:
    for name, info in outputs.items():
        info.row_count = summary.rows_written.get(name)
        if name in column_lineage_of:
            info.column_lineage = column_lineage_of[name].result()
    state = RunState.COMPLETE if summary.outcome == "Succeeded" else RunState.FAIL
    lineage.emit(
        state,
        run_id=summary.run_id,
        inputs=list(inputs.values()),
        outputs=list(outputs.values()),
        error=summary.error,
    )


def _gate_lineage(
    lineage: LineageEmitter, summary: RunSummary, outputs: dict[str, DatasetInfo], checks: list[_GateCheck]
) -> None:
    """Each quality gate as a child run of the pipeline run (job ``<pipeline>.<suite>``): its inputs are
    the sinks whose data it checked, with the assertions of that check."""
    for check in checks:
        name = f"{lineage.job_name}.{check.suite}"
        child = lineage.child(name, run_id=summary.run_id, job_type="VALIDATION")
        checked = [
            DatasetInfo(outputs[name].namespace, outputs[name].name, assertions=check.assertions)
            for name in check.sinks
        ]
        child.emit(RunState.START, run_id=summary.run_id, inputs=checked, outputs=[], when=summary.started)
        child.emit(
            RunState.FAIL if check.error else RunState.COMPLETE,
            run_id=summary.run_id,
            inputs=checked,
            outputs=[],
            error=check.error,
            when=summary.finished,
        )


def _run_streaming(
    spark: SparkSession, plan: RunPlan, run_id: str, keys: Keys, lineage: LineageEmitter | None = None
) -> RunSummary:
    """The driver of a Streaming pipeline: runs until stopped, reporting progress on its pod."""
    from dataops.runtime.pod_progress import PodProgressReporter
    from dataops.runtime.streaming import StreamingRun, StreamingSettings

    reporter = PodProgressReporter.from_env()
    settings = StreamingSettings(bootstrap=os.environ.get("DATAOPS_KAFKA_BOOTSTRAP"))
    try:
        run = StreamingRun(spark, plan, run_id=run_id, settings=settings, masking_keys=keys, lineage=lineage)
    except RunError as exc:
        return RunSummary.failed(plan.pipeline, run_id, str(exc))
    return run.run(progress=reporter or (lambda r: print(json.dumps(r), flush=True)))


def _gate_runner(plan: RunPlan) -> QualityGateRunner | None:
    """The gates' engine, with the suites the operator resolved into the plan."""
    if not plan.quality_gates:
        return None
    from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
    from dataops.quality.gate import SuiteGateRunner

    return SuiteGateRunner({name: DataQualitySuiteSpec.model_validate(s) for name, s in plan.suites.items()})


def _clip(error: str | None, limit: int = 4000) -> str:
    """The termination message is bounded: keep the head (what failed) and the tail (the quarantine)."""
    text = error or ""
    if len(text) <= limit:
        return text
    tail = limit // 4
    return f"{text[: limit - tail - 5]} ... {text[-tail:]}"


def pipeline_emitter(plan: RunPlan, transport: str) -> LineageEmitter:
    """The lineage of a pipeline's runs: job ``<pipeline>`` in ``dataops://<namespace>``."""
    return LineageEmitter(
        make_transport(transport),
        job_namespace=job_namespace(plan.namespace),
        job_name=plan.pipeline,
        sql=";\n".join(s.sql for s in plan.steps if s.model is None),
        processing_type="STREAMING" if plan.mode == "Streaming" else "BATCH",
    )


def main() -> int:
    """Entry point of the driver pod: the plan comes from the mounted ConfigMap."""
    plan_path = Path(os.environ.get("DATAOPS_PLAN_PATH", "/etc/dataops/plan/plan.json"))
    plan = RunPlan.model_validate(json.loads(plan_path.read_text()))
    run_id = os.environ.get("DATAOPS_RUN_ID", "manual")
    try:  # a masking key that is missing fails the run before Spark starts
        keys = resolve_keys(plan.masking)
    except RunError as exc:
        return _report(RunSummary.failed(plan.pipeline, run_id, str(exc)))
    spark = SparkSession.builder.appName(f"dataops-{plan.pipeline}-{run_id}").getOrCreate()
    scrub_spark_logs(spark)  # the driver pod's log: no data values from failing tasks
    lineage = pipeline_emitter(plan, os.environ.get("DATAOPS_LINEAGE_TRANSPORT", "console"))
    if plan.mode == "Streaming":
        summary = _run_streaming(spark, plan, run_id, keys, lineage)
    else:
        summary = execute_plan(
            spark,
            plan,
            run_id=run_id,
            lineage=lineage,
            gate_runner=_gate_runner(plan),
            progress=lambda m: print(m, flush=True),
            masking_keys=keys,
        )
    code = _report(summary)
    spark.stop()
    return code


def _report(summary: RunSummary) -> int:
    """Print the summary and leave it (or the error) as the pod's termination message."""
    print(summary.render_table(), flush=True)
    # The kubelet copies this file into the pod's termination message, where the operator reads it.
    termination = Path(os.environ.get("DATAOPS_TERMINATION_LOG", "/dev/termination-log"))
    if termination.parent.exists():
        with contextlib.suppress(OSError):
            termination.write_text(
                summary.termination_message(TERMINATION_LIMIT)
                if summary.outcome == "Succeeded"
                else _clip(summary.error)
            )
    return 0 if summary.outcome == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
