"""A Streaming pipeline's run: Kafka -> parse -> SQL steps -> sinks, as Spark Structured Streaming.

One micro-batch at a time (``foreachBatch``): records are parsed against the declared schema,
the ones that fail go to the dead-letter topic with the reason (the job keeps running), the rest
feed the SQL steps and are written idempotently, so a restart from the checkpoint neither loses
nor duplicates records. Progress (rates, lag, last batch) is handed to a callback after each batch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from openlineage.client.event_v2 import RunState
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.query import StreamingQuery

from dataops.api.v1alpha1.datapipeline import (
    DataLossPolicy,
    KafkaSource,
    QualityGate,
    Sink,
    Source,
    StreamingSpec,
)
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.datasets import sink_identity, source_identity
from dataops.lineage.events import DatasetInfo, LineageEmitter
from dataops.plan.runplan import RunPlan
from dataops.plan.topics import DLQ_SUFFIX
from dataops.policy.masking import ColumnMasking, UnresolvedDerivation, plan_columns
from dataops.quality.gate import SuiteGateRunner
from dataops.runtime.error_text import failure_line, scrub_values
from dataops.runtime.errors import QualityGateFailed, RunError, SourceError, StepError
from dataops.runtime.failpoints import failpoint
from dataops.runtime.hadoop import hadoop_fs
from dataops.runtime.io import read_source
from dataops.runtime.malformed import MalformedCounts
from dataops.runtime.masking import Keys, MaskingError, apply_masking, check_merge_keys, resolve_keys
from dataops.runtime.steps import ensure_queries_only
from dataops.runtime.stream_dead_letters import DeadLetterLedger
from dataops.runtime.stream_loss import LostOffsetCounter
from dataops.runtime.stream_parse import (
    data_columns,
    dead_letter_frame,
    parse_records,
    rejected_records,
    typed_rows,
)
from dataops.runtime.stream_sinks import write_batch
from dataops.runtime.summary import RunSummary

ProgressCallback = Callable[[dict[str, Any]], None]
CHECKPOINT_FOLDER = "_dataops_checkpoint"


@dataclass
class StreamingSettings:
    bootstrap: str | None = None  # for kafka sources that name none
    checkpoint: str | None = None  # default: spec, else inside the first sink's path
    max_batches: int | None = None  # stop after this many micro-batches
    available_now: bool = False  # process what the topic holds now, then stop
    idle_timeout: float | None = None  # stop after this many seconds without new records


@dataclass
class _Counters:
    batches: int = 0
    rows_in: int = 0
    rows_parsed: int = 0
    dead_lettered: int = 0
    skipped_offsets: int = 0  # deleted from the topic before they were read (onDataLoss: Continue)
    gate_warnings: dict[str, int] = field(default_factory=dict)  # gate on dataset -> micro-batches
    written: dict[str, int] = field(default_factory=dict)
    last_data: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def checkpoint_location(plan: RunPlan, spec: StreamingSpec, settings: StreamingSettings) -> str:
    if settings.checkpoint:
        return settings.checkpoint
    if spec.checkpoint_location:
        return spec.checkpoint_location
    first = Sink.model_validate(plan.sinks[0].spec)
    if first.path is None:
        raise RunError(first.name, "set spec.streaming.checkpointLocation (the sink has no path)")
    return f"{first.path.rstrip('/')}/{CHECKPOINT_FOLDER}"


def checkpoint_query_id(spark: SparkSession, checkpoint: str) -> str:
    """The query id Structured Streaming keeps in ``<checkpoint>/metadata`` (``{"id": ...}``)."""
    fs, path = hadoop_fs(spark, f"{checkpoint.rstrip('/')}/metadata")
    stream = fs.open(path)
    try:
        jvm: Any = spark._jvm
        line = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8")).readLine()
    finally:
        stream.close()
    return str(json.loads(str(line))["id"])


def _stream_source(sources: list[Source]) -> tuple[Source, KafkaSource]:
    kafka = [s for s in sources if s.kafka is not None]
    if len(kafka) != 1:
        raise SourceError(
            ",".join(s.name for s in kafka) or "-", "a Streaming pipeline reads exactly one kafka source"
        )
    assert kafka[0].kafka is not None
    return kafka[0], kafka[0].kafka


def consumer_lag(progress: dict[str, Any]) -> int | None:
    """Offsets between what the last batch read and the newest offsets, over all partitions."""
    total, known = 0, False
    for source in progress.get("sources") or []:
        latest, end = source.get("latestOffset"), source.get("endOffset")
        if not isinstance(latest, dict) or not isinstance(end, dict):
            continue
        for topic, partitions in latest.items():
            for partition, offset in partitions.items():
                total += max(0, int(offset) - int((end.get(topic) or {}).get(partition, 0)))
                known = True
    return total if known else None


def kafka_reader_options(spec: StreamingSpec, kafka: KafkaSource, bootstrap: str) -> dict[str, str]:
    """The Kafka source's options. Lost offsets fail the job unless the spec says Continue."""
    options = {
        "kafka.bootstrap.servers": bootstrap,
        "subscribe": kafka.topic,
        "startingOffsets": kafka.starting_offsets.value,
        "failOnDataLoss": "true" if spec.on_data_loss == DataLossPolicy.FAIL else "false",
    }
    if spec.max_offsets_per_trigger:
        options["maxOffsetsPerTrigger"] = str(spec.max_offsets_per_trigger)
    return options


def status_report(
    progress: dict[str, Any], dead_lettered: int, state: str = "Running", *, skipped_offsets: int = 0
) -> dict[str, Any]:
    """A StreamingStatus (as JSON) from a StreamingQueryProgress."""
    report: dict[str, Any] = {"state": state, "deadLettered": dead_lettered}
    if skipped_offsets:
        report["skippedOffsets"] = skipped_offsets
    if "batchId" in progress:
        report["batchId"] = int(progress["batchId"])
    if progress.get("timestamp"):
        report["lastBatchTime"] = str(progress["timestamp"])
    for key in ("inputRowsPerSecond", "processedRowsPerSecond"):
        value = progress.get(key)
        if isinstance(value, int | float):
            report[key] = round(float(value), 3)
    lag = consumer_lag(progress)
    if lag is not None:
        report["consumerLag"] = lag
    return report


def _query_failure(error: object) -> str:
    """The first line of a stopped query's exception, its values scrubbed."""
    text = str(getattr(error, "desc", None) or error).strip()
    return scrub_values(text.splitlines()[0] if text else type(error).__name__)


KAFKA_BATCH_SCHEMA = "key binary, value binary, topic string, partition int, offset long"


class StreamingRun:
    def __init__(
        self,
        spark: SparkSession,
        plan: RunPlan,
        *,
        run_id: str,
        settings: StreamingSettings,
        masking_keys: Keys | None = None,
        lineage: LineageEmitter | None = None,
    ) -> None:
        """``masking_keys``: the keys of the plan's masking rules; None reads them from the environment.
        ``lineage``: the pipeline's emitter (START when the query starts, COMPLETE or FAIL when it stops)."""
        self.spark = spark
        self.plan = plan
        self.run_id = run_id
        self.settings = settings
        self.spec = StreamingSpec.model_validate(plan.streaming or {})
        self.sources = [Source.model_validate(s) for s in plan.sources]
        self.sinks = [Sink.model_validate(k.spec) for k in plan.sinks]
        ensure_queries_only(plan.steps)
        self.source, self.kafka = _stream_source(self.sources)
        bootstrap = self.kafka.bootstrap_servers or settings.bootstrap
        if not bootstrap:
            raise SourceError(
                self.source.name, "no bootstrap servers (kafka.bootstrapServers or DATAOPS_KAFKA_BOOTSTRAP)"
            )
        self.bootstrap: str = bootstrap
        self.dead_letter_topic = self.spec.dead_letter_topic or f"{self.kafka.topic}{DLQ_SUFFIX}"
        self.checkpoint = checkpoint_location(plan, self.spec, settings)
        self.query_id: str | None = None  # the checkpoint's own id, read at the first batch
        self.ledger: DeadLetterLedger | None = None
        self.gates = [QualityGate.model_validate(g) for g in plan.quality_gates]
        self.gate_runner = (
            SuiteGateRunner({n: DataQualitySuiteSpec.model_validate(x) for n, x in plan.suites.items()})
            if self.gates
            else None
        )
        self.gate_failure: str | None = None
        self.loss = (
            LostOffsetCounter(self.bootstrap, self.kafka.topic)
            if self.spec.on_data_loss == DataLossPolicy.CONTINUE
            else None
        )
        self.counters = _Counters()
        self.keys = masking_keys if masking_keys is not None else resolve_keys(plan.masking)
        self.masking: dict[str, dict[str, ColumnMasking]] = {}  # sink -> column -> its masking
        self.lineage = lineage

    def lineage_datasets(self) -> tuple[list[DatasetInfo], list[DatasetInfo]]:
        """Inputs (the topic, with the bootstrap servers the job uses, and the static sources) and
        outputs (the sinks). A connector source is not read by the job: its topics are."""
        inputs = [
            DatasetInfo(*source_identity(s, bootstrap=self.bootstrap))
            for s in self.sources
            if s.connector is None
        ]
        outputs = []
        for sink in self.sinks:
            info = DatasetInfo(*sink_identity(sink))
            # which columns a DataPolicy masks and why (known once the query starts): the column
            # lineage facet's masking transformations and the tags facet, no values
            info.masking = {
                column: (d.rule.method.value, d.rule.classification, d.reason())
                for column, d in self.masking.get(sink.name, {}).items()
            }
            outputs.append(info)
        return inputs, outputs

    def _emit(self, state: RunState, error: str | None = None) -> None:
        if self.lineage is None:
            return
        inputs, outputs = self.lineage_datasets()
        if state != RunState.START:
            for sink, info in zip(self.sinks, outputs, strict=True):
                info.row_count = self.counters.written.get(sink.name)
        self.lineage.emit(
            state,
            run_id=self.run_id,
            inputs=inputs,
            outputs=outputs,
            error=error,
            spark_version=self.spark.version if state == RunState.START else None,
        )

    def _register_static_sources(self) -> None:
        for source in self.sources:
            if source is not self.source:
                read_source(
                    self.spark, source, MalformedCounts(rules=list(self.plan.masking)), keep_cached=False
                ).createOrReplaceTempView(source.name)

    def _register_batch(self, session: SparkSession, batch: DataFrame) -> None:
        """The parsed rows of a batch as the source's view, the SQL steps on top of it."""
        typed_rows(batch, self.kafka).createOrReplaceTempView(self.source.name)
        for step in self.plan.steps:
            try:
                session.sql(step.sql).createOrReplaceTempView(step.name)
            except PySparkException as exc:
                raise StepError(step.name, failure_line(exc)) from exc

    def plan_masking(self) -> dict[str, dict[str, ColumnMasking]]:
        """Each sink's column masking, decided on an empty batch before the query starts (an
        untraceable column or a masked merge key fails the run before anything is written)."""
        empty = self.spark.createDataFrame([], KAFKA_BATCH_SCHEMA)
        self._register_batch(self.spark, parse_records(empty, self.kafka))
        sources = {s.name: data_columns(self.spark.table(s.name)) for s in self.sources}
        for sink in self.sinks:
            try:
                self.masking[sink.name] = plan_columns(
                    rules=self.plan.masking,
                    sink=sink.name,
                    output_columns=data_columns(self.spark.table(sink.from_)),
                    from_=sink.from_,
                    steps={s.name: s.sql for s in self.plan.steps},
                    source_columns=sources,
                )
            except UnresolvedDerivation as exc:
                raise MaskingError(sink.name, str(exc)) from exc
            check_merge_keys(sink, self.masking[sink.name])
        return self.masking

    def _check_gates(self, session: SparkSession, masked: dict[str, DataFrame], batch_id: int) -> None:
        """Each quality gate on each micro-batch, before its writes: the gate's dataset (values of
        classified columns kept out of the results), or by default each sink's data as it will be
        written (masked). A blocking failure stops the job with the gate's message; the batch is not
        committed, so a restart validates the same records again. Warnings are counted per gate."""
        if self.gate_runner is None:
            return
        for gate in self.gates:
            if gate.dataset:
                targets = [
                    (gate.dataset, session.table(gate.dataset), self._protected(session, gate.dataset))
                ]
            else:
                targets = [(k.from_, masked[k.name], None) for k in self.sinks]
            for dataset, data, protected in targets:
                try:
                    warned = self.gate_runner(gate, dataset, data, protected=protected)
                except QualityGateFailed as exc:
                    self.gate_failure = f"micro-batch {batch_id}: {exc}"
                    raise
                if warned:
                    with self.counters.lock:
                        key = f"{gate.suite_ref.name} on {dataset}"
                        self.counters.gate_warnings[key] = self.counters.gate_warnings.get(key, 0) + 1

    def _protected(self, session: SparkSession, dataset: str) -> dict[str, str] | None:
        """The classified columns of a dataset a gate reads unmasked, to keep their values out."""
        if not self.plan.masking:
            return None
        decided = plan_columns(
            rules=self.plan.masking,
            sink=dataset,
            output_columns=data_columns(session.table(dataset)),
            from_=dataset,
            steps={s.name: s.sql for s in self.plan.steps},
            source_columns={s.name: data_columns(session.table(s.name)) for s in self.sources},
            refuse_unresolved=False,
        )
        return {c: d.rule.classification for c, d in decided.items() if d.masked}

    def _app_id(self, session: SparkSession) -> str:
        """The Delta transaction app id of this checkpoint: its query id, which Structured Streaming
        writes in ``<checkpoint>/metadata`` when it creates the checkpoint. A checkpoint deleted and
        made again at the same path gets a new id, so Delta does not mistake its batches 0, 1, ...
        for ones already committed (a path-derived id would make Delta skip them silently)."""
        if self.query_id is None:
            self.query_id = checkpoint_query_id(session, self.checkpoint)
        return f"dataops:{self.plan.namespace}/{self.plan.pipeline}:{self.query_id}"

    def _dead_letters(self, session: SparkSession) -> DeadLetterLedger:
        if self.ledger is None:
            self.ledger = DeadLetterLedger(session, self.checkpoint, self.bootstrap, self.dead_letter_topic)
        return self.ledger

    def _query_error(self, error: object) -> str:
        """One line for the query's failure, values scrubbed; Kafka data loss (onDataLoss: Fail)
        said plainly."""
        text = str(getattr(error, "desc", None) or error)
        if "KAFKA_DATA_LOSS" in text or "data may have been lost" in text.lower():
            return (
                f"offsets of topic {self.kafka.topic} were deleted before they were read "
                "(retention or deleteRecords while the job was behind or stopped); onDataLoss: Fail stops "
                "the job: set spec.streaming.onDataLoss: Continue to skip them (they are counted)"
            )
        return failure_line(error) if isinstance(error, PySparkException) else _query_failure(error)

    def _process(self, batch: DataFrame, batch_id: int) -> None:
        """One micro-batch: Kafka is read and every record parsed once (cached for the writes)."""
        session = batch.sparkSession
        parsed = parse_records(batch, self.kafka).persist()
        try:
            totals = parsed.agg(F.count(F.lit(1)).alias("n"), F.count("__reason").alias("bad")).first()
            records, rejected = (int(totals["n"]), int(totals["bad"])) if totals else (0, 0)
            if self.loss is not None:
                lost = self.loss.observe(parsed)
                with self.counters.lock:
                    self.counters.skipped_offsets += lost
            if rejected:
                self._dead_letters(session).write(
                    batch_id, dead_letter_frame(rejected_records(parsed), self.plan.pipeline)
                )
            good = records - rejected
            self._register_batch(session, parsed)
            masked = {
                sink.name: apply_masking(
                    session.table(sink.from_), self.masking.get(sink.name, {}), self.keys, sink=sink.name
                )
                for sink in self.sinks
            }
            self._check_gates(
                session, masked, batch_id
            )  # a blocking failure: nothing of the batch is written
            for sink in self.sinks:
                write_batch(
                    session,
                    sink,
                    masked[sink.name],
                    batch_id=batch_id,
                    app_id=f"{self._app_id(session)}:{sink.name}",
                )
            failpoint("after-sinks", batch_id)
            with self.counters.lock:
                c = self.counters
                c.batches += 1
                c.rows_in += records
                c.rows_parsed += good
                c.dead_lettered += rejected
                for sink in self.sinks:
                    if sink.from_ == self.source.name:  # rows of SQL steps are not counted (no extra pass)
                        c.written[sink.name] = c.written.get(sink.name, 0) + good
                if records:
                    c.last_data = time.monotonic()
        finally:
            parsed.unpersist()

    def start(self) -> StreamingQuery:
        self._register_static_sources()
        if self.loss is not None:
            self.loss.resume_from(self.spark, self.checkpoint)
        if self.plan.masking:
            self.plan_masking()
        reader = self.spark.readStream.format("kafka").options(
            **kafka_reader_options(self.spec, self.kafka, self.bootstrap)
        )
        writer = (
            reader.load()
            .writeStream.foreachBatch(self._process)
            .option("checkpointLocation", self.checkpoint)
            .queryName(f"dataops-{self.plan.pipeline}")
        )
        if self.settings.available_now:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(processingTime=f"{self.spec.trigger_interval_seconds} seconds")
        return writer.start()

    def run(
        self, *, progress: ProgressCallback = lambda _r: None, stop: threading.Event | None = None
    ) -> RunSummary:
        summary = RunSummary(pipeline=self.plan.pipeline, run_id=self.run_id, started=datetime.now(UTC))
        stop = stop or threading.Event()
        self.counters.last_data = time.monotonic()
        last_batch: object = None
        query: StreamingQuery | None = None
        self._emit(RunState.START)
        try:
            query = self.start()
            while query.isActive:
                query.awaitTermination(1)
                recent = query.lastProgress
                if recent and recent.get("batchId") != last_batch:
                    last_batch = recent.get("batchId")
                    progress(
                        status_report(
                            recent, self.counters.dead_lettered, skipped_offsets=self.counters.skipped_offsets
                        )
                    )
                idle = self.settings.idle_timeout
                if (
                    stop.is_set()
                    or (
                        self.settings.max_batches is not None
                        and self.counters.batches >= self.settings.max_batches
                    )
                    or (idle is not None and time.monotonic() - self.counters.last_data > idle)
                ):
                    query.stop()
            error = query.exception()
            if error is not None:
                raise RunError(self.source.name, self._query_error(error))
            summary.outcome = "Succeeded"
        except RunError as exc:
            summary.outcome, summary.error = "Failed", self.gate_failure or str(exc)
        except PySparkException as exc:
            summary.outcome, summary.error = "Failed", self.gate_failure or self._query_error(exc)
        summary.finished = datetime.now(UTC)
        summary.rows_read = {self.source.name: self.counters.rows_in}
        summary.rows_written = {k.name: self.counters.written.get(k.name) for k in self.sinks}
        summary.masked = {
            sink: {c: d.reason() for c, d in columns.items()}
            for sink, columns in self.masking.items()
            if columns
        }
        if self.spec.on_data_loss == DataLossPolicy.CONTINUE:
            summary.warnings.append(
                "onDataLoss: Continue: offsets deleted from the topic before they were read are skipped "
                "(Spark's failOnDataLoss=false); the default, Fail, stops the job instead"
            )
        for where, batches in sorted(self.counters.gate_warnings.items()):
            summary.warnings.append(f"quality gate {where}: expectations failed in {batches} micro-batch(es)")
        if self.counters.skipped_offsets:
            summary.warnings.append(
                f"{self.counters.skipped_offsets} offset(s) of {self.kafka.topic} were deleted before they "
                "were read and are skipped (onDataLoss: Continue)"
            )
        if self.counters.dead_lettered:
            summary.warnings.append(
                f"{self.counters.dead_lettered} record(s) sent to dead-letter topic {self.dead_letter_topic}"
            )
        self._emit(RunState.COMPLETE if summary.outcome == "Succeeded" else RunState.FAIL, summary.error)
        final: dict[str, Any] = (query.lastProgress if query is not None else None) or {}
        progress(
            status_report(
                final, self.counters.dead_lettered, "Stopped", skipped_offsets=self.counters.skipped_offsets
            )
        )
        return summary
