"""The run plan: what one run of a pipeline executes, in order. Pure.

The operator renders it into the pipeline's plan ConfigMap; ``dataops run`` and the runtime
in pods execute it. Building it also finds mistakes the schema cannot see, such as a SQL step
that reads a step declared after it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    ModelStep,
    PipelineMode,
    StreamingSpec,
    TransformStep,
)
from dataops.api.v1alpha1.datapolicy import PiiColumn
from dataops.policy.masking import MaskingRule

PLAN_FORMAT_VERSION = 1

_TABLE_REFERENCE = re.compile(r"\b(?:from|join)\s+`?([A-Za-z_][A-Za-z0-9_]*)`?", re.IGNORECASE)
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")


@dataclass(frozen=True)
class PlanError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PlannedStep(BaseModel):
    name: str
    sql: str = Field(
        description="The step's query; for a model step, the SQL its output derives like "
        "(for column lineage and masking only, never executed)."
    )
    depends_on: list[str] = Field(default_factory=list)
    model: ModelStep | None = Field(default=None, description="A model step's spec (sql is then derived).")


class PlannedSink(BaseModel):
    name: str
    from_: str = Field(alias="from")
    spec: dict[str, Any]

    model_config = {"populate_by_name": True}


class RunPlan(BaseModel):
    """Everything a run needs except secret values (those are referenced, never copied)."""

    format_version: int = PLAN_FORMAT_VERSION
    pipeline: str
    namespace: str
    mode: str
    sources: list[dict[str, Any]]
    steps: list[PlannedStep]
    quality_gates: list[dict[str, Any]]
    sinks: list[PlannedSink]
    retry: dict[str, Any]
    timeout_seconds: int | None = None
    suites: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Specs of the DataQualitySuites the gates reference, by name."
    )
    streaming: dict[str, Any] | None = Field(
        default=None, description="StreamingSpec of a Streaming pipeline."
    )
    staging_path: str | None = Field(default=None, description="Root of write-audit-publish staging.")
    quarantine_retention_days: int = Field(
        default=7, description="How long a failed gate's quarantine stays."
    )
    masking: list[MaskingRule] = Field(
        default_factory=list,
        description="PII rules of the selecting DataPolicies (Secret references, never key values).",
    )
    pii_columns: list[dict[str, Any]] = Field(
        default_factory=list,
        description="DataPolicy piiColumns of the policies that select the pipeline (classified columns).",
    )

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json", by_alias=True)
        for optional in ("masking", "pii_columns"):  # plans without policies keep their old digest
            if not data[optional]:
                del data[optional]
        if data.get("quarantineRetentionDays", data.get("quarantine_retention_days")) == 7:
            data.pop("quarantineRetentionDays", None)  # the default: plans keep their old digest
            data.pop("quarantine_retention_days", None)
        for step in data["steps"]:  # plans without model steps keep their old digest
            if step.get("model") is None:
                step.pop("model", None)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]


def strip_sql_noise(sql: str) -> str:
    """SQL without comments and string literals, so names inside them are not taken as references."""
    without_blocks = _BLOCK_COMMENT.sub(" ", sql)
    without_lines = _LINE_COMMENT.sub(" ", without_blocks)
    return _STRING_LITERAL.sub("''", without_lines)


def referenced_tables(sql: str) -> list[str]:
    """Names that follow FROM or JOIN, in order of first appearance, lower-cased."""
    seen: dict[str, None] = {}
    for match in _TABLE_REFERENCE.finditer(strip_sql_noise(sql)):
        seen.setdefault(match.group(1).lower(), None)
    return list(seen)


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"


def model_derivation_sql(step: TransformStep) -> str:
    """The query a model step's output derives like: its user and item columns are the input's,
    rank and score come from the interactions' strength. Column lineage and masking trace it;
    Spark never runs it."""
    assert step.model is not None
    als = step.model.als
    user, item = _quoted(als.user_column), _quoted(als.item_column)
    strength = _quoted(als.rating_column) if als.rating_column else "1.0"
    return (
        f"SELECT {user}, {item}, "
        f"CAST(row_number() OVER (PARTITION BY {user} ORDER BY {strength} DESC) AS INT) AS `rank`, "
        f"CAST({strength} AS FLOAT) AS `score` FROM {_quoted(step.model.input)}"
    )


def step_sql(step: TransformStep) -> str:
    """A SQL step's query, or the derivation of a model step's output."""
    return step.sql if step.sql is not None else model_derivation_sql(step)


def check_step_order(spec: DataPipelineSpec) -> list[PlanError]:
    """Each step (SQL or model) may read sources and earlier steps only."""
    errors: list[PlanError] = []
    step_index = {t.name: i for i, t in enumerate(spec.transforms)}
    for index, step in enumerate(spec.transforms):
        where = (
            f"spec.transforms[{index}].sql" if step.model is None else f"spec.transforms[{index}].model.input"
        )
        for table in referenced_tables(step_sql(step)):
            later = step_index.get(table)
            if later is None:
                continue
            if later == index:
                errors.append(PlanError(where, f"step {step.name!r} reads itself"))
            elif later > index:
                errors.append(
                    PlanError(where, f"step {step.name!r} reads {table!r}, which is declared after it")
                )
    return errors


def build_run_plan(
    *,
    name: str,
    namespace: str,
    spec: DataPipelineSpec,
    suites: dict[str, dict[str, Any]] | None = None,
    masking: list[MaskingRule] | None = None,
    pii_columns: list[PiiColumn] | None = None,
) -> RunPlan:
    known = {s.name for s in spec.sources}
    steps = []
    for step in spec.transforms:
        sql = step_sql(step)
        deps = [t for t in referenced_tables(sql) if t in known]
        steps.append(PlannedStep(name=step.name, sql=sql, depends_on=deps, model=step.model))
        known.add(step.name)
    return RunPlan(
        pipeline=name,
        namespace=namespace,
        mode=spec.mode.value,
        sources=[s.to_json() for s in spec.sources],
        steps=steps,
        quality_gates=[g.to_json() for g in spec.quality_gates],
        sinks=[PlannedSink(name=k.name, from_=k.from_, spec=k.to_json()) for k in spec.sinks],
        retry=spec.retry.to_json(),
        timeout_seconds=spec.timeout_seconds,
        suites=dict(sorted((suites or {}).items())),
        streaming=(spec.streaming or StreamingSpec()).to_json()
        if spec.mode == PipelineMode.STREAMING
        else None,
        staging_path=spec.staging_path,
        quarantine_retention_days=spec.quarantine_retention_days,
        masking=list(masking or []),
        pii_columns=[c.to_json() for c in pii_columns or []],
    )
