"""DataPipeline: sources -> ordered SQL steps -> quality gates -> sinks, on a schedule or continuously."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from dataops.api.v1alpha1.base import CelRule, KubeModel, list_map, unique_names
from dataops.api.v1alpha1.common import (
    Conditions,
    Identifier,
    LocalObjectReference,
    ObjectName,
    Quantity,
    ScheduleSpec,
    SecretKeySelector,
    SparkMemory,
)
from dataops.api.v1alpha1.meta import ObjectMeta, name_length_rule

KAFKA_TOPIC_PATTERN = r"^[a-zA-Z0-9._-]+$"
SPARK_TYPE_PATTERN = (
    r"^(string|boolean|byte|short|int|integer|long|bigint|float|double|date|timestamp|binary"
    r"|decimal\([0-9]+,[0-9]+\))$"
)


class FileFormat(StrEnum):
    PARQUET = "parquet"
    DELTA = "delta"
    CSV = "csv"
    JSON = "json"


class SinkFormat(StrEnum):
    PARQUET = "parquet"
    DELTA = "delta"
    CSV = "csv"
    JSON = "json"
    JDBC = "jdbc"


class ColumnSpec(KubeModel):
    """A column of a declared schema (Spark SQL type names)."""

    name: str = Field(min_length=1, max_length=128)
    type: str = Field(
        pattern=SPARK_TYPE_PATTERN, description="Spark SQL type, e.g. string, long, decimal(10,2)."
    )
    nullable: bool = True


Schema = Annotated[list[ColumnSpec], Field(max_length=512)]


class KafkaRecordFormat(StrEnum):
    JSON = "json"
    AVRO = "avro"
    DEBEZIUM = "debezium"
    """Debezium change events (JSON converter without schemas): rows are the state after each change;
    deletes carry ``__deleted = true`` so a merge sink removes the key."""


class StartingOffsets(StrEnum):
    EARLIEST = "earliest"
    LATEST = "latest"


class KafkaSource(KubeModel):
    """A Kafka topic; the operator creates and owns it unless ``managed`` is false."""

    topic: str = Field(min_length=1, max_length=249, pattern=KAFKA_TOPIC_PATTERN)
    bootstrap_servers: str | None = Field(
        default=None, max_length=1024, description="host:port list; defaults to the operator's setting."
    )
    partitions: int = Field(default=1, ge=1, le=10000)
    replication_factor: int = Field(default=1, ge=1, le=10)
    config: dict[str, str] = Field(
        default_factory=dict, description="Topic configs, e.g. retention.ms, cleanup.policy."
    )
    managed: bool = Field(default=True, description="Create the topic and delete it with the pipeline.")
    format: KafkaRecordFormat = KafkaRecordFormat.JSON
    schema_: Schema = Field(default_factory=list, alias="schema")
    starting_offsets: StartingOffsets = StartingOffsets.EARLIEST


class ConfigFromSecret(KubeModel):
    """A connector config key whose value comes from a Secret."""

    config_key: str = Field(min_length=1, max_length=253)
    secret_key_ref: SecretKeySelector


class ConnectorRestartPolicy(KubeModel):
    max_restarts: int = Field(default=5, ge=0, le=1000, description="Automatic restarts before giving up.")
    backoff_seconds: int = Field(default=10, ge=1, le=3600)
    max_backoff_seconds: int = Field(default=300, ge=1, le=86400)


class ConnectorSource(KubeModel):
    """A Kafka Connect connector (Debezium CDC, JDBC, file, any class) feeding topics."""

    connector_class: str = Field(min_length=1, max_length=512, pattern=r"^[A-Za-z_$][A-Za-z0-9_$.]*$")
    config: dict[str, str] = Field(default_factory=dict)
    config_from_secrets: list[ConfigFromSecret] = Field(default_factory=list, max_length=32)
    tasks_max: int = Field(default=1, ge=1, le=256)
    paused: bool = False
    connect_url: str | None = Field(default=None, max_length=1024, pattern=r"^https?://")
    topics: list[Annotated[str, Field(max_length=249, pattern=KAFKA_TOPIC_PATTERN)]] = Field(
        default_factory=list, max_length=64, description="Topics the connector writes and the pipeline reads."
    )
    restart: ConnectorRestartPolicy = Field(
        default_factory=lambda: ConnectorRestartPolicy(),
        description="Failed connectors and tasks are restarted automatically with exponential backoff.",
    )


class MalformedPolicy(StrEnum):
    FAIL = "Fail"
    DROP = "Drop"
    QUARANTINE = "Quarantine"


_PARSER_OPTIONS = ("mode", "columnNameOfCorruptRecord")


class FileSource(KubeModel):
    """Files or an object-store prefix (s3a://, gs://, abfss://, file://, or a plain path)."""

    path: str = Field(min_length=1, max_length=2048)
    format: FileFormat = FileFormat.PARQUET
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Spark reader options (not mode or columnNameOfCorruptRecord: see onMalformed).",
    )
    schema_: Schema = Field(default_factory=list, alias="schema")
    on_malformed: MalformedPolicy = Field(
        default=MalformedPolicy.FAIL,
        description="csv and json: what a record that does not parse against the schema (declared, or "
        "inferred) does. Fail: the run fails naming the source and file, before anything is written. "
        "Drop: the record is skipped and counted. Quarantine: it is skipped, counted and written "
        "with its file to quarantinePath.",
    )
    quarantine_path: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        description="onMalformed Quarantine: where malformed records go, as JSON lines "
        "(<quarantinePath>/<run id>/): the raw record, its file and the source.",
    )

    cel_rules = (
        CelRule(
            rule="self.onMalformed == 'Fail' || self.format == 'csv' || self.format == 'json'",
            message="onMalformed applies to csv and json sources (parquet and delta carry their schema)",
            check=lambda s: (
                s.on_malformed == MalformedPolicy.FAIL or s.format in (FileFormat.CSV, FileFormat.JSON)
            ),
            field_path=".onMalformed",
            reason="FieldValueForbidden",
        ),
        CelRule(
            rule="(self.onMalformed == 'Quarantine') == has(self.quarantinePath)",
            message="quarantinePath is required with onMalformed Quarantine, and used only there",
            check=lambda s: (s.on_malformed == MalformedPolicy.QUARANTINE) == (s.quarantine_path is not None),
            field_path=".quarantinePath",
        ),
        CelRule(
            rule="!has(self.options) || (!('mode' in self.options) && "
            "!('columnNameOfCorruptRecord' in self.options))",
            message="options may not set mode or columnNameOfCorruptRecord: onMalformed decides how "
            "malformed records are handled",
            check=lambda s: not any(k in s.options for k in _PARSER_OPTIONS),
            field_path=".options",
            reason="FieldValueForbidden",
        ),
    )


class JdbcCredentials(KubeModel):
    user_secret_ref: SecretKeySelector | None = None
    password_secret_ref: SecretKeySelector | None = None


class JdbcSource(KubeModel):
    """A table or query of a JDBC database."""

    url: str = Field(min_length=6, max_length=2048, pattern=r"^jdbc:")
    table: str | None = Field(default=None, max_length=512)
    query: str | None = Field(default=None, max_length=65536)
    driver: str | None = Field(default=None, max_length=512)
    credentials: JdbcCredentials | None = None

    cel_rules = (
        CelRule(
            rule="has(self.table) != has(self.query)",
            message="exactly one of table or query must be set",
            check=lambda s: (s.table is None) != (s.query is None),
        ),
    )


class Source(KubeModel):
    """One input of the pipeline; exactly one of kafka, connector, file or jdbc."""

    name: Identifier
    kafka: KafkaSource | None = None
    connector: ConnectorSource | None = None
    file: FileSource | None = None
    jdbc: JdbcSource | None = None

    cel_rules = (
        CelRule(
            rule="[has(self.kafka), has(self.connector), has(self.file), has(self.jdbc)]"
            ".filter(x, x).size() == 1",
            message="exactly one of kafka, connector, file or jdbc must be set",
            check=lambda s: sum(x is not None for x in (s.kafka, s.connector, s.file, s.jdbc)) == 1,
        ),
    )


ColumnName = Annotated[str, Field(min_length=1, max_length=128)]


class AlsParams(KubeModel):
    """Spark MLlib ALS (alternating least squares) collaborative filtering on user-item interactions.
    The user and item columns hold integer ids (Spark's ALS keeps them as 32-bit ints)."""

    user_column: ColumnName = Field(description="Integer column identifying the user (customer).")
    item_column: ColumnName = Field(description="Integer column identifying the item (product).")
    rating_column: ColumnName | None = Field(
        default=None,
        description="Numeric strength of each interaction: summed per (user, item) with implicitPrefs, "
        "averaged otherwise. Without it every row counts 1 (implicit feedback only).",
    )
    implicit_prefs: bool = Field(default=True, description="Implicit feedback (purchases, views).")
    rank: int = Field(default=10, ge=1, le=500, description="Number of latent factors.")
    max_iter: int = Field(default=10, ge=1, le=100)
    reg_param: float = Field(default=0.1, ge=0, le=1000)
    alpha: float = Field(default=1.0, ge=0, le=1000, description="Confidence weight of implicit feedback.")
    nonnegative: bool = False
    seed: int = Field(default=42, ge=0, le=2147483647)

    cel_rules = (
        CelRule(
            rule="self.userColumn != self.itemColumn",
            message="userColumn and itemColumn must be different columns",
            check=lambda a: a.user_column != a.item_column,
            field_path=".itemColumn",
        ),
        CelRule(
            rule="!has(self.ratingColumn) || "
            "(self.ratingColumn != self.userColumn && self.ratingColumn != self.itemColumn)",
            message="ratingColumn must differ from userColumn and itemColumn",
            check=lambda a: a.rating_column is None or a.rating_column not in (a.user_column, a.item_column),
            field_path=".ratingColumn",
        ),
        CelRule(
            rule="self.implicitPrefs || has(self.ratingColumn)",
            message="explicit feedback (implicitPrefs: false) needs ratingColumn",
            check=lambda a: a.implicit_prefs or a.rating_column is not None,
            field_path=".ratingColumn",
            reason="FieldValueRequired",
        ),
    )


class ModelEvaluation(KubeModel):
    """How a model is evaluated before it is saved: a seeded random split of the interactions."""

    test_fraction: float = Field(
        default=0.2, ge=0.05, le=0.5, description="Share of (user, item) interactions held out."
    )
    seed: int = Field(default=7, ge=0, le=2147483647)


class ModelStep(KubeModel):
    """Trains a Spark MLlib model on a dataset of the run, evaluates it on a held-out split, saves it
    as a new version under ``path`` and scores: the step's view holds the top-k recommendations."""

    input: Identifier = Field(description="Source or earlier step holding the interactions.")
    path: str = Field(
        min_length=1,
        max_length=2048,
        description="Root of the model's versions (Spark ML format): each run saves <path>/v<N> and "
        "points <path>/LATEST at it; earlier versions are never overwritten.",
    )
    als: AlsParams
    top_k: int = Field(default=10, ge=1, le=1000, description="Recommendations per user.")
    exclude_seen: bool = Field(
        default=True, description="Recommend only items the user has not interacted with."
    )
    evaluation: ModelEvaluation = Field(default_factory=ModelEvaluation)


class TransformStep(KubeModel):
    """A SQL step or a model step; its result is a temporary view named ``name`` for later steps and
    sinks."""

    name: Identifier
    sql: str | None = Field(default=None, min_length=1, max_length=65536)
    model: ModelStep | None = Field(
        default=None, description="Train and score a Spark MLlib model instead of running SQL."
    )
    description: str | None = Field(default=None, max_length=1024)

    cel_rules = (
        CelRule(
            rule="has(self.sql) != has(self.model)",
            message="exactly one of sql or model must be set",
            check=lambda t: (t.sql is None) != (t.model is None),
        ),
    )


class GateAction(StrEnum):
    BLOCK = "block"
    WARN = "warn"


class QualityGate(KubeModel):
    """Validate a dataset with a DataQualitySuite before anything is published."""

    suite_ref: LocalObjectReference
    dataset: Identifier | None = Field(
        default=None, description="Source or step to validate; defaults to the data each sink writes."
    )
    action: GateAction = GateAction.BLOCK


class WriteMode(StrEnum):
    APPEND = "append"
    OVERWRITE = "overwrite"
    MERGE = "merge"


class JdbcTarget(KubeModel):
    url: str = Field(min_length=6, max_length=2048, pattern=r"^jdbc:")
    table: str = Field(min_length=1, max_length=512)
    driver: str | None = Field(default=None, max_length=512)
    credentials: JdbcCredentials | None = None


def _retention_rules() -> tuple[CelRule, ...]:
    """An accepted retentionDays is enforced, so only sinks where it can be are accepted."""
    return (
        CelRule(
            rule="!has(self.retentionDays) || self.format != 'jdbc'",
            message="retentionDays cannot be enforced on a jdbc sink (delete old rows in the database)",
            check=lambda s: s.retention_days is None or s.format != SinkFormat.JDBC,
            field_path=".retentionDays",
            reason="FieldValueForbidden",
        ),
        CelRule(
            rule="!has(self.retentionDays) || self.format == 'jdbc' || has(self.retentionColumn)",
            message="retentionDays needs retentionColumn, the date or timestamp column whose age decides "
            "what is deleted",
            check=lambda s: (
                s.retention_days is None or s.format == SinkFormat.JDBC or s.retention_column is not None
            ),
            field_path=".retentionColumn",
            reason="FieldValueRequired",
        ),
        CelRule(
            rule="!has(self.retentionColumn) || has(self.retentionDays)",
            message="retentionColumn is only used with retentionDays",
            check=lambda s: s.retention_column is None or s.retention_days is not None,
            field_path=".retentionColumn",
            reason="FieldValueForbidden",
        ),
        CelRule(
            rule="!has(self.retentionColumn) || self.format == 'delta' || self.format == 'jdbc' || "
            "(has(self.partitionBy) && self.retentionColumn in self.partitionBy)",
            message="on a parquet, csv or json sink retentionColumn must be one of partitionBy "
            "(expired partition folders are dropped); unpartitioned files cannot be expired",
            check=lambda s: (
                s.retention_column is None
                or s.format in (SinkFormat.DELTA, SinkFormat.JDBC)
                or s.retention_column in s.partition_by
            ),
            field_path=".retentionColumn",
        ),
    )


class Sink(KubeModel):
    """Where a dataset is published."""

    name: Identifier
    from_: Identifier = Field(alias="from", description="Source or transform step whose rows are written.")
    format: SinkFormat = SinkFormat.PARQUET
    path: str | None = Field(default=None, min_length=1, max_length=2048)
    jdbc: JdbcTarget | None = None
    mode: WriteMode = WriteMode.APPEND
    partition_by: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=8)
    merge_keys: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list,
        max_length=8,
        description="mode merge: the columns that identify a row. A target row with the same key is "
        "updated, others are inserted. Within one run's rows a key must occur once: identical rows "
        "collapse, and different rows with the same key need latestBy (otherwise the run fails).",
    )
    latest_by: list[Annotated[str, Field(max_length=128)]] = Field(
        default_factory=list,
        max_length=8,
        description="mode merge: when a key occurs in several of the run's rows, the row with the "
        "greatest values of these columns (compared in order; nulls lose) is merged and the others "
        "are dropped. Rows that tie on all of them but differ fail the run.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="After each successful run, data older than this many days (by retentionColumn) is "
        "deleted: Delta rows (then VACUUM), or expired partition folders of parquet, csv and json sinks.",
    )
    retention_column: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The date or timestamp column whose age retentionDays applies to; on a parquet, csv "
        "or json sink it must be one of partitionBy.",
    )
    max_age_seconds: int | None = Field(
        default=None,
        ge=1,
        le=31_536_000,
        description="Freshness SLO: the sink's data must have been published (a successful run, or a "
        "streaming micro-batch) within this many seconds; reported by the Fresh condition and the "
        "dataops_sink_fresh metric.",
    )

    cel_rules = (
        CelRule(
            rule="self.mode != 'merge' || (has(self.mergeKeys) && size(self.mergeKeys) > 0)",
            message="mergeKeys is required when mode is merge",
            check=lambda s: s.mode != WriteMode.MERGE or len(s.merge_keys) > 0,
            field_path=".mergeKeys",
            reason="FieldValueRequired",
        ),
        CelRule(
            rule="self.mode != 'merge' || self.format != 'jdbc'",
            message="a jdbc sink cannot merge; use append or overwrite (or merge in the database)",
            check=lambda s: s.mode != WriteMode.MERGE or s.format != SinkFormat.JDBC,
            field_path=".mode",
            reason="FieldValueForbidden",
        ),
        CelRule(
            rule="self.mode == 'merge' || !has(self.latestBy) || size(self.latestBy) == 0",
            message="latestBy is only used when mode is merge",
            check=lambda s: s.mode == WriteMode.MERGE or not s.latest_by,
            field_path=".latestBy",
            reason="FieldValueForbidden",
        ),
        CelRule(
            rule="self.format == 'jdbc' ? (has(self.jdbc) && !has(self.path)) "
            ": (has(self.path) && !has(self.jdbc))",
            message="a jdbc sink needs jdbc and no path; a file sink needs path and no jdbc",
            check=lambda s: (
                (s.jdbc is not None and s.path is None)
                if s.format == SinkFormat.JDBC
                else (s.path is not None and s.jdbc is None)
            ),
        ),
        *_retention_rules(),
    )


class ConcurrencyPolicy(StrEnum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


class PipelineSchedule(ScheduleSpec):
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    starting_deadline_seconds: int | None = Field(default=None, ge=0, le=86400)


class RetryPolicy(KubeModel):
    """Exponential backoff: backoffSeconds * 2^attempt, capped at maxBackoffSeconds."""

    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_seconds: int = Field(default=30, ge=1, le=3600)
    max_backoff_seconds: int = Field(default=600, ge=1, le=86400)

    cel_rules = (
        CelRule(
            rule="self.backoffSeconds <= self.maxBackoffSeconds",
            message="backoffSeconds must not exceed maxBackoffSeconds",
            check=lambda r: r.backoff_seconds <= r.max_backoff_seconds,
            field_path=".backoffSeconds",
        ),
    )


class FinishedDriverLimits(KubeModel):
    """How many finished driver pods (and their executors) are kept for their logs,
    like a CronJob's successfulJobsHistoryLimit and failedJobsHistoryLimit; older ones are deleted.
    Run history in status is kept either way."""

    succeeded: int = Field(default=3, ge=0, le=100)
    failed: int = Field(default=3, ge=0, le=100)


class PodResources(KubeModel):
    cores: int = Field(default=1, ge=1, le=64)
    memory: SparkMemory = "1g"
    request_cores: Quantity | None = Field(
        default=None,
        description="CPU the pod requests from the scheduler (e.g. 250m); defaults to cores. Spark still "
        "runs `cores` task slots.",
    )


class PodVolume(KubeModel):
    """A PersistentVolumeClaim mounted into the driver and every executor (data the run reads or writes)."""

    name: ObjectName
    claim_name: ObjectName = Field(description="The PersistentVolumeClaim in the pipeline's namespace.")
    mount_path: str = Field(pattern=r"^/", max_length=1024)
    read_only: bool = False


class ExecutorResources(PodResources):
    instances: int = Field(default=1, ge=0, le=1000)


class DynamicAllocation(KubeModel):
    enabled: bool = False
    min_executors: int = Field(default=0, ge=0, le=1000)
    max_executors: int = Field(default=10, ge=1, le=1000)

    cel_rules = (
        CelRule(
            rule="self.minExecutors <= self.maxExecutors",
            message="minExecutors must not exceed maxExecutors",
            check=lambda d: d.min_executors <= d.max_executors,
            field_path=".minExecutors",
        ),
    )


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class Toleration(KubeModel):
    key: str | None = Field(default=None, max_length=317)
    operator: TolerationOperator = TolerationOperator.EQUAL
    value: str | None = Field(default=None, max_length=63)
    effect: TaintEffect | None = None
    toleration_seconds: int | None = None


class SparkBackend(StrEnum):
    NATIVE = "Native"
    SPARK_OPERATOR = "SparkOperator"


class SparkSpec(KubeModel):
    """How runs execute on Kubernetes."""

    backend: SparkBackend = SparkBackend.NATIVE
    image: str | None = Field(
        default=None, max_length=512, description="Defaults to the operator's runtime image."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    driver: PodResources = Field(default_factory=PodResources)
    executor: ExecutorResources = Field(default_factory=ExecutorResources)
    dynamic_allocation: DynamicAllocation = Field(default_factory=DynamicAllocation)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32)
    spark_conf: dict[str, str] = Field(default_factory=dict)
    pod_annotations: dict[str, str] = Field(
        default_factory=dict, description="Added to driver and executor pods."
    )
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Added to driver and executor pods.")
    volumes: Annotated[list[PodVolume], AfterValidator(unique_names)] = Field(
        default_factory=list, max_length=16, json_schema_extra=list_map("name")
    )


class PipelineMode(StrEnum):
    BATCH = "Batch"
    STREAMING = "Streaming"


class DataLossPolicy(StrEnum):
    FAIL = "Fail"
    CONTINUE = "Continue"


class StreamingSpec(KubeModel):
    trigger_interval_seconds: int = Field(default=10, ge=0, le=86400)
    checkpoint_location: str | None = Field(
        default=None,
        max_length=2048,
        description="Where Structured Streaming keeps offsets and state; a restart resumes from it.",
    )
    dead_letter_topic: str | None = Field(
        default=None,
        max_length=249,
        pattern=KAFKA_TOPIC_PATTERN,
        description="Records that fail to parse go here with the reason in headers (default <topic>.dlq).",
    )
    max_offsets_per_trigger: int | None = Field(default=None, ge=1, description="Rate limit per micro-batch.")
    on_data_loss: DataLossPolicy = Field(
        default=DataLossPolicy.FAIL,
        description="When offsets the checkpoint expects are gone from the topic (retention deleted them, "
        "the topic was recreated): Fail stops the job with Spark's error (nothing is skipped silently); "
        "Continue skips them (Spark's failOnDataLoss=false) and the run reports it as a warning.",
    )


def _step_names(spec: DataPipelineSpec) -> set[str]:
    return {s.name for s in spec.sources} | {t.name for t in spec.transforms}


class DataPipelineSpec(KubeModel):
    """The desired pipeline."""

    mode: PipelineMode = PipelineMode.BATCH
    suspend: bool = Field(default=False, description="Suspends scheduled runs; a running run finishes.")
    sources: Annotated[list[Source], AfterValidator(unique_names)] = Field(
        min_length=1, max_length=32, json_schema_extra=list_map("name")
    )
    transforms: Annotated[list[TransformStep], AfterValidator(unique_names)] = Field(
        default_factory=list, max_length=64, json_schema_extra=list_map("name")
    )
    quality_gates: list[QualityGate] = Field(default_factory=list, max_length=32)
    staging_path: str | None = Field(
        default=None,
        max_length=2048,
        description="Write-audit-publish: with quality gates, each sink's output is staged here first "
        "(<stagingPath>/<run>/<sink>), validated, then published; a failed gate leaves it as quarantine. "
        "Default: next to each sink (<path>.__staging/<run>); a JDBC sink without it is staged in the "
        "driver's temporary folder (local runs only: on a cluster, set this to shared storage).",
    )
    sinks: Annotated[list[Sink], AfterValidator(unique_names)] = Field(
        min_length=1, max_length=16, json_schema_extra=list_map("name")
    )
    quarantine_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="How long staged data a failed quality gate kept as quarantine stays; each gated run "
        "deletes older quarantine (and staging that killed runs left behind, after a day) and lists what "
        "stays in status.lastRun.quarantined.",
    )
    schedule: PipelineSchedule | None = None
    streaming: StreamingSpec | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeout_seconds: int | None = Field(default=None, ge=1, le=604800)
    spark: SparkSpec = Field(default_factory=SparkSpec)
    finished_drivers: FinishedDriverLimits = Field(default_factory=FinishedDriverLimits)

    cel_rules = (
        CelRule(
            rule="!has(self.transforms) || self.transforms.all(t, !self.sources.exists(s, s.name == t.name))",
            message="a transform step may not reuse the name of a source",
            check=lambda p: not ({s.name for s in p.sources} & {t.name for t in p.transforms}),
            field_path=".transforms",
        ),
        CelRule(
            rule="self.sinks.all(k, self.sources.exists(s, s.name == k.from) || "
            "(has(self.transforms) && self.transforms.exists(t, t.name == k.from)))",
            message="every sink's from must name a source or a transform step",
            check=lambda p: all(k.from_ in _step_names(p) for k in p.sinks),
            field_path=".sinks",
        ),
        CelRule(
            rule="!has(self.qualityGates) || self.qualityGates.all(g, !has(g.dataset) || "
            "self.sources.exists(s, s.name == g.dataset) || "
            "(has(self.transforms) && self.transforms.exists(t, t.name == g.dataset)))",
            message="every quality gate's dataset must name a source or a transform step",
            check=lambda p: all(g.dataset is None or g.dataset in _step_names(p) for g in p.quality_gates),
            field_path=".qualityGates",
        ),
        CelRule(
            rule="self.mode != 'Streaming' || self.sources.exists(s, has(s.kafka))",
            message="a Streaming pipeline needs at least one kafka source",
            check=lambda p: p.mode != PipelineMode.STREAMING or any(s.kafka for s in p.sources),
            field_path=".sources",
        ),
        CelRule(
            rule="self.mode != 'Streaming' || !has(self.schedule) || !has(self.schedule.cron)",
            message="a Streaming pipeline runs continuously and takes no cron schedule",
            check=lambda p: p.mode != PipelineMode.STREAMING or p.schedule is None or p.schedule.cron is None,
            field_path=".schedule",
        ),
        CelRule(
            rule="self.mode != 'Streaming' || self.sinks.all(k, !has(k.retentionDays))",
            message="retentionDays is enforced after batch runs; a Streaming pipeline's sinks cannot set it",
            check=lambda p: (
                p.mode != PipelineMode.STREAMING or all(k.retention_days is None for k in p.sinks)
            ),
            field_path=".sinks",
        ),
        CelRule(
            rule="!has(self.transforms) || self.transforms.all(t, !has(t.model) || "
            "self.sources.exists(s, s.name == t.model.input) || "
            "self.transforms.exists(u, u.name == t.model.input))",
            message="every model step's input must name a source or a transform step",
            check=lambda p: all(t.model is None or t.model.input in _step_names(p) for t in p.transforms),
            field_path=".transforms",
        ),
        CelRule(
            rule="self.mode != 'Streaming' || !has(self.transforms) || self.transforms.all(t, !has(t.model))",
            message="model steps run in Batch pipelines only",
            check=lambda p: p.mode != PipelineMode.STREAMING or all(t.model is None for t in p.transforms),
            field_path=".transforms",
        ),
        CelRule(
            rule="self.mode == 'Streaming' || !has(self.streaming)",
            message="streaming settings are only allowed when mode is Streaming",
            check=lambda p: p.mode == PipelineMode.STREAMING or p.streaming is None,
            field_path=".streaming",
        ),
    )


class RunOutcome(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    RETRYING = "Retrying"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"  # a trigger that started no run (concurrency Forbid, a missed slot): on record


class RunTrigger(StrEnum):
    SCHEDULE = "Schedule"
    MANUAL = "Manual"
    RETRY = "Retry"
    CONTINUOUS = "Continuous"


class DatasetCount(KubeModel):
    name: str = Field(max_length=128)
    rows: int = Field(ge=0)


class RetentionResult(KubeModel):
    """What retention removed from one sink after a run."""

    sink: str = Field(max_length=128)
    rows_deleted: int | None = Field(default=None, ge=0, description="Delta sinks: rows deleted.")
    partitions_dropped: int | None = Field(
        default=None, ge=0, description="Partitioned file sinks: expired partition folders removed."
    )
    error: str | None = Field(default=None, max_length=1024, description="Why retention did not complete.")


class MergeResult(KubeModel):
    """What a merge did to one sink: its rowsWritten is inserted + updated."""

    sink: str = Field(max_length=128)
    inserted: int = Field(ge=0, description="Rows whose key was not in the target.")
    updated: int = Field(ge=0, description="Target rows replaced by a row with the same key.")
    superseded: int = Field(
        default=0,
        ge=0,
        description="The run's rows not merged: identical duplicates and older rows of a key (latestBy).",
    )
    table_rows: int | None = Field(default=None, ge=0, description="Rows in the target after the merge.")


class MalformedRecords(KubeModel):
    """Records of a csv or json source that did not parse, and what the run did with them."""

    source: str = Field(max_length=128)
    policy: MalformedPolicy
    rows: int = Field(ge=0)
    quarantine: str | None = Field(default=None, max_length=2048, description="Where they were written.")


class QuarantinedData(KubeModel):
    """Staged data of an earlier run that a failed quality gate kept, still within its retention."""

    sink: str = Field(max_length=128)
    path: str = Field(max_length=2048)
    since: datetime


class UnclassifiedColumn(KubeModel):
    """A column a run wrote that looks like personal data but no DataPolicy classifies (no values)."""

    sink: str = Field(max_length=128)
    column: str = Field(max_length=256)
    classification: str = Field(max_length=64)
    ratio: float = Field(ge=0, le=1, description="Share of sampled non-empty values that matched.")


class MaskedColumns(KubeModel):
    """The columns of one sink a run masked (DataPolicy piiColumns), and why."""

    sink: str = Field(max_length=128)
    columns: list[Annotated[str, Field(max_length=256)]] = Field(default_factory=list, max_length=128)
    reasons: list[Annotated[str, Field(max_length=512)]] = Field(
        default_factory=list,
        max_length=128,
        description="Per column (same order): masking method, classification and the rule or lineage.",
    )


class ModelRun(KubeModel):
    """A model a model step trained in a run: the version it saved and its held-out metrics."""

    step: str = Field(max_length=128)
    version: str | None = Field(default=None, max_length=32, description="v<N> under path, once saved.")
    location: str | None = Field(default=None, max_length=2048)
    metrics: dict[str, float] = Field(
        default_factory=dict, description="e.g. rmse, precisionAt10, baselinePrecisionAt10."
    )


class RunRecord(KubeModel):
    """One run of the pipeline."""

    id: str = Field(max_length=63)
    trigger: RunTrigger
    attempt: int = Field(default=1, ge=1)
    outcome: RunOutcome
    scheduled_time: datetime | None = Field(
        default=None, description="The schedule slot a Schedule run fills."
    )
    driver_pod: str | None = Field(default=None, max_length=253)
    not_before: datetime | None = Field(default=None, description="A retry waits until this time (backoff).")
    start_time: datetime | None = None
    completion_time: datetime | None = None
    rows_read: list[DatasetCount] = Field(default_factory=list, max_length=64)
    rows_written: list[DatasetCount] = Field(default_factory=list, max_length=64)
    retention: list[RetentionResult] = Field(default_factory=list, max_length=16)
    masked: list[MaskedColumns] = Field(default_factory=list, max_length=16)
    merged: list[MergeResult] = Field(default_factory=list, max_length=64)
    malformed: list[MalformedRecords] = Field(default_factory=list, max_length=64)
    quarantined: list[QuarantinedData] = Field(default_factory=list, max_length=64)
    unclassified_pii: list[UnclassifiedColumn] = Field(
        default_factory=list,
        max_length=32,
        description="Columns written to sinks that look like personal data but no DataPolicy classifies.",
    )
    models: list[ModelRun] = Field(
        default_factory=list, max_length=16, description="Models the run's model steps trained and saved."
    )
    message: str = Field(default="", max_length=4096)
    plan_key: str | None = Field(
        default=None,
        max_length=253,
        description="What a Continuous run runs: the plan digest and run-now token.",
    )


class PipelinePhase(StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    BLOCKED = "Blocked"
    SUSPENDED = "Suspended"
    RUNNING = "Running"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class PolicyReport(KubeModel):
    """Policies that select this pipeline and what they find wrong with it."""

    policies: list[Annotated[str, Field(max_length=253)]] = Field(default_factory=list, max_length=64)
    violations: list[Annotated[str, Field(max_length=1024)]] = Field(default_factory=list, max_length=64)


class TopicStatus(KubeModel):
    name: str = Field(max_length=249)
    partitions: int | None = Field(default=None, ge=0)
    ready: bool = False
    owned: bool = Field(default=False, description="Created by this pipeline (deleted with it).")
    message: str = Field(default="", max_length=1024)


class TaskStatus(KubeModel):
    id: int = Field(ge=0)
    state: str = Field(max_length=32)
    trace: str | None = Field(
        default=None, max_length=1024, description="First lines of a failed task's trace."
    )


class ConnectorStatus(KubeModel):
    name: str = Field(max_length=253)
    source: str = Field(max_length=63)
    state: str = Field(default="UNKNOWN", max_length=32)
    tasks: list[TaskStatus] = Field(default_factory=list, max_length=256)
    restarts: int = Field(default=0, ge=0)
    last_restart_time: datetime | None = None
    message: str = Field(default="", max_length=1024)


class StreamingStatus(KubeModel):
    """The streaming job's progress, as its driver last reported it."""

    state: str = Field(default="Unknown", max_length=32)
    batch_id: int | None = Field(default=None, ge=-1)
    last_batch_time: datetime | None = None
    input_rows_per_second: float | None = None
    processed_rows_per_second: float | None = None
    consumer_lag: int | None = Field(default=None, description="Offsets behind the newest, all partitions.")
    dead_lettered: int | None = Field(
        default=None, ge=0, description="Records sent to the dead-letter topic."
    )
    skipped_offsets: int | None = Field(
        default=None,
        ge=0,
        description="Offsets deleted from the topic before the job read them (onDataLoss: Continue).",
    )


class DataPipelineStatus(KubeModel):
    observed_generation: int | None = None
    phase: PipelinePhase = PipelinePhase.PENDING
    conditions: Conditions
    plan_config_map: str | None = Field(default=None, max_length=253)
    plan_hash: str | None = Field(default=None, max_length=64)
    policy: PolicyReport | None = None
    current_run: RunRecord | None = Field(default=None, description="The newest active run.")
    active_runs: list[RunRecord] = Field(default_factory=list, max_length=20)
    last_run: RunRecord | None = Field(default=None, description="The newest finished run.")
    history: list[RunRecord] = Field(default_factory=list, max_length=20)
    last_schedule_time: datetime | None = None
    last_manual_trigger: str | None = Field(default=None, max_length=253)
    run_sequence: int = Field(
        default=0, ge=0, description="Runs started by run-now or continuously so far: makes every run id new."
    )
    topics: list[TopicStatus] = Field(default_factory=list, max_length=64)
    connectors: list[ConnectorStatus] = Field(default_factory=list, max_length=32)
    last_connector_restart_request: str | None = Field(
        default=None, max_length=253, description="The dataops.dev/restart-connectors value already handled."
    )
    streaming: StreamingStatus | None = None


class DataPipeline(KubeModel):
    """A data pipeline."""

    api_version: Literal["dataops.dev/v1alpha1"] = "dataops.dev/v1alpha1"
    kind: Literal["DataPipeline"] = "DataPipeline"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DataPipelineSpec
    status: DataPipelineStatus | None = None

    cel_rules = (name_length_rule("DataPipeline"),)
