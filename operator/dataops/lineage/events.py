"""OpenLineage run events built with openlineage-python, and the transports that send them."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    InputDatasetFacet,
    column_lineage_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_input_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
    tags_dataset,
)
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.noop import NoopConfig, NoopTransport

PRODUCER = "https://github.com/dataops-operator/dataops-operator"
RUN_NAMESPACE = uuid.UUID("6f1c3a52-5d2e-4f0e-9d7b-6a1b2c3d4e5f")


JOB_NAMESPACE_PREFIX = "dataops://"


def run_uuid(pipeline: str, run_id: str) -> str:
    """OpenLineage run ids are UUIDs; ours are derived deterministically from the run identity."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{pipeline}/{run_id}"))


def job_namespace(namespace: str) -> str:
    """The OpenLineage job namespace of the jobs of one Kubernetes namespace: ``dataops://<ns>``."""
    return f"{JOB_NAMESPACE_PREFIX}{namespace or 'default'}"


@dataclass(frozen=True)
class ParentRun:
    """The run a child run belongs to (a pipeline run for its quality gates, a pipeline for its
    connectors): the ParentRunFacet of the child's events."""

    namespace: str
    name: str
    run_id: str  # a UUID

    def facet(self) -> parent_run.ParentRunFacet:
        return parent_run.ParentRunFacet(
            run=parent_run.Run(runId=self.run_id),
            job=parent_run.Job(namespace=self.namespace, name=self.name),
        )


def make_transport(spec: str) -> Transport:
    """``console``, ``file:/path/events.jsonl``, ``http(s)://host[:port]`` or ``none``."""
    if spec in ("", "none"):
        return NoopTransport(NoopConfig())
    if spec == "console":
        return ConsoleTransport(ConsoleConfig())
    if spec.startswith("file:"):
        return FileTransport(FileConfig(log_file_path=spec[len("file:") :], append=True))
    if spec.startswith(("http://", "https://")):
        return HttpTransport(HttpConfig(url=spec))
    raise ValueError(f"unknown lineage transport {spec!r}: use console, file:PATH, http(s)://URL or none")


@dataclass
class DatasetInfo:
    namespace: str
    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # (name, type)
    row_count: int | None = None
    column_lineage: dict[str, list[tuple[str, str, str]]] = field(
        default_factory=dict
    )  # col -> (ns, name, col)
    assertions: list[tuple[str, bool, str | None, str]] = field(
        default_factory=list
    )  # type, ok, column, severity
    row_count_evaluated: int | None = None  # an input's rows a quality validation evaluated
    column_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # dataQualityMetrics facet
    masking: dict[str, tuple[str, str, str]] = field(
        default_factory=dict
    )  # output column -> (masking method, classification, why); no values
    retention: dict[str, Any] | None = None  # what retention removed from an output after the run
    malformed: dict[str, Any] | None = None  # an input's records that did not parse (onMalformed)
    model: dict[str, Any] | None = None  # a model step's artefact: version, location, params, metrics


@attr.define
class ModelDatasetFacet(DatasetFacet):
    """dataops' own facet: a model a model step trained and saved (one version of the dataset)."""

    algorithm: str
    step: str
    version: str | None = None
    location: str | None = None
    parameters: dict[str, Any] = attr.field(factory=dict)
    metrics: dict[str, Any] = attr.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/docs/facets/ModelDatasetFacet.json"


@attr.define
class RetentionDatasetFacet(DatasetFacet):
    """dataops' own facet: what retention removed from an output dataset after the run."""

    retentionDays: int
    column: str
    cutoff: str
    rowsDeleted: int | None = None
    partitionsDropped: int | None = None
    error: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/docs/facets/RetentionDatasetFacet.json"


@attr.define
class MalformedRecordsInputDatasetFacet(InputDatasetFacet):
    """dataops' own facet: records of a csv or json input that did not parse, and what became of them."""

    policy: str
    rows: int
    quarantine: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/docs/facets/MalformedRecordsInputDatasetFacet.json"


def _schema(fields: list[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields]
    )


def _quality_metrics(
    info: DatasetInfo,
) -> data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet:
    return data_quality_metrics_input_dataset.DataQualityMetricsInputDatasetFacet(
        rowCount=info.row_count_evaluated,
        columnMetrics={
            column: data_quality_metrics_input_dataset.ColumnMetrics(**metrics)
            for column, metrics in info.column_metrics.items()
        },
    )


def _input(info: DatasetInfo) -> InputDataset:
    facets: dict[str, Any] = {"schema": _schema(info.fields)} if info.fields else {}
    if info.assertions:
        facets["dataQualityAssertions"] = _assertions(info)
    input_facets: dict[str, Any] = {}
    if info.row_count_evaluated is not None or info.column_metrics:
        input_facets["dataQualityMetrics"] = _quality_metrics(info)
    if info.malformed is not None:
        input_facets["dataopsMalformedRecords"] = MalformedRecordsInputDatasetFacet(
            policy=str(info.malformed["policy"]),
            rows=int(info.malformed["rows"]),
            quarantine=info.malformed.get("quarantine"),
        )
    return InputDataset(namespace=info.namespace, name=info.name, facets=facets, inputFacets=input_facets)


def _assertions(info: DatasetInfo) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=[
            data_quality_assertions_dataset.Assertion(
                assertion=kind, success=ok, column=column, severity=severity
            )
            for kind, ok, column, severity in info.assertions
        ]
    )


def _column_fields(
    inputs: list[tuple[str, str, str]], masking: tuple[str, str, str] | None
) -> column_lineage_dataset.Fields:
    """One output column's lineage; a column a DataPolicy covers says so in its transformations."""
    transformations: list[column_lineage_dataset.Transformation] = []
    if masking is not None:
        method, classification, why = masking
        transformations.append(
            column_lineage_dataset.Transformation(
                type="DIRECT",
                subtype="TRANSFORMATION",
                description=f"DataPolicy masking {method} of {classification} data: {why}",
                masking=method != "none",
            )
        )
    masked = masking is not None and masking[0] != "none"
    return column_lineage_dataset.Fields(
        inputFields=[
            column_lineage_dataset.InputField(
                namespace=ns, name=n, field=f, transformations=list(transformations)
            )
            for ns, n, f in inputs
        ],
        transformationType="MASKED" if masked else "",
        transformationDescription=transformations[0].description or "" if transformations else "",
    )


def _tags(info: DatasetInfo) -> tags_dataset.TagsDatasetFacet:
    tags = []
    for column, (method, classification, _) in info.masking.items():
        tags.append(
            tags_dataset.TagsDatasetFacetFields(
                key="pii", value=classification, source="DataPolicy", field=column
            )
        )
        tags.append(
            tags_dataset.TagsDatasetFacetFields(
                key="masking", value=method, source="DataPolicy", field=column
            )
        )
    return tags_dataset.TagsDatasetFacet(tags=tags)


def _output(info: DatasetInfo) -> OutputDataset:
    facets: dict[str, Any] = {"schema": _schema(info.fields)} if info.fields else {}
    if info.assertions:
        facets["dataQualityAssertions"] = _assertions(info)
    columns = list(info.column_lineage) + [c for c in info.masking if c not in info.column_lineage]
    if columns:
        facets["columnLineage"] = column_lineage_dataset.ColumnLineageDatasetFacet(
            fields={
                column: _column_fields(info.column_lineage.get(column, []), info.masking.get(column))
                for column in columns
            }
        )
    if info.masking:
        facets["tags"] = _tags(info)
    if info.retention is not None:
        facets["dataopsRetention"] = RetentionDatasetFacet(
            retentionDays=int(info.retention["days"]),
            column=str(info.retention["column"]),
            cutoff=str(info.retention["cutoff"]),
            rowsDeleted=info.retention.get("rowsDeleted"),
            partitionsDropped=info.retention.get("partitionsDropped"),
            error=info.retention.get("error"),
        )
    if info.model is not None:
        facets.update(_model_facets(info.model))
    output_facets: dict[str, Any] = {}
    if info.row_count is not None:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=info.row_count)
        )
    return OutputDataset(namespace=info.namespace, name=info.name, facets=facets, outputFacets=output_facets)


def _model_facets(model: dict[str, Any]) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "dataopsModel": ModelDatasetFacet(
            algorithm=str(model.get("algorithm")),
            step=str(model.get("step")),
            version=model.get("version"),
            location=model.get("location"),
            parameters=dict(model.get("params") or {}),
            metrics=dict(model.get("metrics") or {}),
        )
    }
    if model.get("version"):
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(model["version"])
        )
    return facets


class LineageEmitter:
    """Emits START, COMPLETE and FAIL events of one pipeline's runs and keeps them for inspection."""

    def __init__(
        self,
        transport: Transport,
        *,
        job_namespace: str,
        job_name: str,
        sql: str = "",
        job_type: str = "JOB",
        processing_type: str = "BATCH",
        integration: str = "SPARK",
        parent: ParentRun | None = None,
        client: OpenLineageClient | None = None,
    ) -> None:
        self.client = client or OpenLineageClient(transport=transport)
        self.job_namespace = job_namespace
        self.job_name = job_name
        self.sql = sql
        self.job_type = job_type
        self.processing_type = processing_type
        self.integration = integration
        self.parent = parent
        self.events: list[dict[str, Any]] = []
        self.send_errors: list[str] = []  # events the transport could not deliver (kept in events)

    def run_uuid(self, run_id: str) -> str:
        """The OpenLineage run id (a UUID) of this job's run ``run_id``."""
        return run_uuid(self.job_name, run_id)

    def parent_of(self, run_id: str) -> ParentRun:
        """This job's run ``run_id`` as the parent of child runs."""
        return ParentRun(self.job_namespace, self.job_name, self.run_uuid(run_id))

    def child(self, job_name: str, *, run_id: str, job_type: str) -> LineageEmitter:
        """An emitter for a child job of this job's run ``run_id`` (same transport, same namespace);
        its events are kept in this emitter's ``events`` too."""
        child = LineageEmitter(
            NoopTransport(NoopConfig()),
            job_namespace=self.job_namespace,
            job_name=job_name,
            job_type=job_type,
            processing_type=self.processing_type,
            integration=self.integration,
            parent=self.parent_of(run_id),
            client=self.client,
        )
        child.events = self.events
        child.send_errors = self.send_errors
        return child

    def _job(self) -> Job:
        facets: dict[str, Any] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType=self.processing_type, integration=self.integration, jobType=self.job_type
            )
        }
        if self.sql:
            facets["sql"] = sql_job.SQLJobFacet(query=self.sql)
        return Job(namespace=self.job_namespace, name=self.job_name, facets=facets)

    def emit(
        self,
        state: RunState,
        *,
        run_id: str,
        inputs: list[DatasetInfo],
        outputs: list[DatasetInfo],
        error: str | None = None,
        spark_version: str | None = None,
        when: datetime | None = None,
    ) -> dict[str, Any]:
        run_facets: dict[str, Any] = {}
        if self.parent is not None:
            run_facets["parent"] = self.parent.facet()
        if spark_version:
            run_facets["processing_engine"] = processing_engine_run.ProcessingEngineRunFacet(
                version=spark_version, name="spark"
            )
        if error:
            run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=error, programmingLanguage="python"
            )
        event = RunEvent(
            eventType=state,
            eventTime=(when or datetime.now(UTC)).isoformat(),
            run=Run(runId=self.run_uuid(run_id), facets=run_facets),
            job=self._job(),
            producer=PRODUCER,
            inputs=[_input(i) for i in inputs],
            outputs=[_output(o) for o in outputs],
        )
        as_dict: dict[str, Any] = Serde.to_dict(event)
        self.events.append(as_dict)
        try:
            self.client.emit(event)
        except Exception as exc:  # any transport's failure: lineage never fails the run it describes
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.send_errors.append(f"{self.job_name} {state.value}: {reason}")
            print(f"warning: lineage event not sent: {self.send_errors[-1]}", file=sys.stderr, flush=True)
        return as_dict
