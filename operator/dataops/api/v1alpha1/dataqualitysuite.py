"""DataQualitySuite: expectations (Great Expectations vocabulary) over a dataset."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from pydantic.alias_generators import to_snake

from dataops.api.v1alpha1.base import CelRule, KubeModel, list_map, unique_names
from dataops.api.v1alpha1.common import Conditions, ScheduleSpec
from dataops.api.v1alpha1.datapipeline import FileFormat, PodResources, PodVolume, Toleration
from dataops.api.v1alpha1.expectations import (
    ARGUMENTS,
    EXPECTATIONS,
    types_accepting,
    types_needing_bound,
    types_requiring,
)
from dataops.api.v1alpha1.meta import ObjectMeta, name_length_rule

ExpectationType = StrEnum(  # type: ignore[misc]
    "ExpectationType", {name.upper(): name for name in EXPECTATIONS}
)

ColumnName = Annotated[str, Field(min_length=1, max_length=128)]


def _cel_list(names: list[str]) -> str:
    return "[" + ", ".join(json.dumps(n) for n in names) + "]"


def _type_not_in_or_set(types: frozenset[str], attr: str, e: Expectation) -> bool:
    return str(e.type) not in types or getattr(e, attr) is not None


def _unset_or_type_in(types: frozenset[str], attr: str, e: Expectation) -> bool:
    return getattr(e, attr) is None or str(e.type) in types


def _bounded(types: frozenset[str], e: Expectation) -> bool:
    return str(e.type) not in types or e.min_value is not None or e.max_value is not None


def _argument_rules() -> tuple[CelRule, ...]:
    rules: list[CelRule] = []
    for argument in ARGUMENTS:
        attr = to_snake(argument)
        requiring = types_requiring(argument)
        if requiring:
            rules.append(
                CelRule(
                    rule=f"!(self.type in {_cel_list(requiring)}) || has(self.{argument})",
                    message=f"{argument} is required for this expectation type",
                    check=partial(_type_not_in_or_set, frozenset(requiring), attr),
                    field_path=f".{argument}",
                    reason="FieldValueRequired",
                )
            )
        accepting = types_accepting(argument)
        rules.append(
            CelRule(
                rule=f"!has(self.{argument}) || self.type in {_cel_list(accepting)}",
                message=f"{argument} is not an argument of this expectation type",
                check=partial(_unset_or_type_in, frozenset(accepting), attr),
                field_path=f".{argument}",
                reason="FieldValueForbidden",
            )
        )
    bounded = types_needing_bound()
    rules.append(
        CelRule(
            rule=f"!(self.type in {_cel_list(bounded)}) || has(self.minValue) || has(self.maxValue)",
            message="at least one of minValue or maxValue is required for this expectation type",
            check=partial(_bounded, frozenset(bounded)),
            field_path=".minValue",
            reason="FieldValueRequired",
        )
    )
    return tuple(rules)


class Severity(StrEnum):
    ERROR = "error"
    WARN = "warn"


class DetectableClassification(StrEnum):
    """The kinds of personal data the detectors recognise (a subset of DataPolicy classifications)."""

    EMAIL = "email"
    PHONE = "phone"
    CREDIT_CARD = "creditCard"
    BANK_ACCOUNT = "bankAccount"
    IP_ADDRESS = "ipAddress"
    NATIONAL_ID = "nationalId"


class QuantileRanges(KubeModel):
    quantiles: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1, max_length=32)
    value_ranges: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        min_length=1, max_length=32
    )

    cel_rules = (
        CelRule(
            rule="size(self.quantiles) == size(self.valueRanges)",
            message="quantiles and valueRanges must have the same length",
            check=lambda q: len(q.quantiles) == len(q.value_ranges),
            field_path=".valueRanges",
        ),
    )


class Expectation(KubeModel):
    """One expectation; argument names follow Great Expectations' keyword arguments in camelCase."""

    type: ExpectationType
    column: ColumnName | None = None
    column_list: list[ColumnName] | None = Field(default=None, min_length=1, max_length=64)
    column_set: list[ColumnName] | None = Field(default=None, min_length=1, max_length=512)
    column_a: ColumnName | None = Field(default=None, alias="columnA")
    column_b: ColumnName | None = Field(default=None, alias="columnB")
    value_set: list[int | str] | None = Field(default=None, min_length=1, max_length=1000)
    regex: str | None = Field(default=None, min_length=1, max_length=1024)
    type_name: str | None = Field(default=None, max_length=64)
    value: int | None = Field(default=None, ge=0)
    sum_total: float | None = None
    quantile_ranges: QuantileRanges | None = None
    min_value: float | None = None
    max_value: float | None = None
    strict_min: bool | None = None
    strict_max: bool | None = None
    exact_match: bool | None = None
    or_equal: bool | None = None
    classifications: list[DetectableClassification] | None = Field(
        default=None,
        min_length=1,
        max_length=6,
        description="expect_column_values_to_not_contain_pii: the kinds of personal data to look for "
        "(default all).",
    )
    mostly: float = Field(default=1.0, ge=0.0, le=1.0, description="Fraction of rows that must pass.")
    severity: Severity = Severity.ERROR
    row_condition: str | None = Field(
        default=None, max_length=4096, description="Spark SQL predicate; only matching rows are checked."
    )
    description: str | None = Field(default=None, max_length=1024)

    cel_rules = (
        *_argument_rules(),
        CelRule(
            rule="!has(self.minValue) || !has(self.maxValue) || self.minValue <= self.maxValue",
            message="minValue must not exceed maxValue",
            check=lambda e: e.min_value is None or e.max_value is None or e.min_value <= e.max_value,
            field_path=".minValue",
        ),
    )

    def kwargs(self) -> dict[str, Any]:
        """Great Expectations keyword arguments (snake case, as GE names them)."""
        names = {"column_a": "column_A", "column_b": "column_B", "type_name": "type_"}
        out: dict[str, Any] = {}
        for argument in ARGUMENTS:
            attr = to_snake(argument)
            value = getattr(self, attr)
            if value is None:
                continue
            out[names.get(attr, attr)] = value.to_json() if isinstance(value, KubeModel) else value
        if "quantile_ranges" in out:
            out["quantile_ranges"] = {
                "quantiles": out["quantile_ranges"]["quantiles"],
                "value_ranges": out["quantile_ranges"]["valueRanges"],
            }
        return out


class DatasetRef(KubeModel):
    """The data a suite validates: a path with a format, or a table of the Spark catalog."""

    path: str | None = Field(default=None, min_length=1, max_length=2048)
    format: FileFormat = FileFormat.PARQUET
    table: str | None = Field(default=None, max_length=512, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    options: dict[str, str] = Field(default_factory=dict)

    cel_rules = (
        CelRule(
            rule="has(self.path) != has(self.table)",
            message="exactly one of path or table must be set",
            check=lambda d: (d.path is None) != (d.table is None),
        ),
    )


class AnomalyKind(StrEnum):
    ROW_COUNT_CHANGE = "rowCountChange"
    FRESHNESS = "freshness"
    SCHEMA_DRIFT = "schemaDrift"
    DISTRIBUTION_SHIFT = "distributionShift"


class AnomalyCheck(KubeModel):
    """A check against the suite's own history."""

    type: AnomalyKind
    column: ColumnName | None = None
    threshold: float = Field(
        default=0.5,
        ge=0,
        description="rowCountChange: largest relative change of the row count against the mean of the "
        "recent runs; distributionShift: largest shift of the column's 5th/50th/95th percentiles against "
        "the recent runs, relative to their 5-95 percentile spread; freshness: largest age in seconds of "
        "the newest value; schemaDrift: ignored (any added, removed or retyped column fails).",
    )
    lookback_runs: int = Field(default=5, ge=1, le=20, description="How many recent runs to compare with.")
    severity: Severity = Severity.WARN

    cel_rules = (
        CelRule(
            rule="!(self.type in ['freshness', 'distributionShift']) || has(self.column)",
            message="column is required for freshness and distributionShift checks",
            check=lambda a: (
                a.type not in (AnomalyKind.FRESHNESS, AnomalyKind.DISTRIBUTION_SHIFT) or a.column is not None
            ),
            field_path=".column",
            reason="FieldValueRequired",
        ),
    )


class Engine(StrEnum):
    AUTO = "auto"
    GREAT_EXPECTATIONS = "greatExpectations"
    SINGLE_PASS = "singlePass"


class ValidatorSpec(KubeModel):
    """The validation pod of standalone runs."""

    image: str | None = Field(
        default=None, max_length=512, description="Defaults to the operator's validator image."
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    resources: PodResources = Field(default_factory=PodResources)
    service_account_name: str | None = Field(default=None, max_length=253)
    pod_annotations: dict[str, str] = Field(default_factory=dict)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list, max_length=32)
    volumes: Annotated[list[PodVolume], AfterValidator(unique_names)] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra=list_map("name"),
        description="PersistentVolumeClaims mounted into the validation pod (the dataset, the results path).",
    )
    timeout_seconds: int = Field(default=3600, ge=10, le=86400)


class DataQualitySuiteSpec(KubeModel):
    dataset: DatasetRef | None = Field(
        default=None, description="Needed for standalone runs; a pipeline gate validates its own data."
    )
    expectations: list[Expectation] = Field(min_length=1, max_length=200)
    anomalies: list[AnomalyCheck] = Field(default_factory=list, max_length=32)
    engine: Engine = Engine.AUTO
    schedule: ScheduleSpec | None = None
    suspend: bool = False
    results_path: str | None = Field(
        default=None,
        max_length=2048,
        description="Where each run's result.json and report.html go (a folder per run); defaults to "
        "_dataops_quality inside the dataset's path.",
    )
    validator: ValidatorSpec = Field(default_factory=ValidatorSpec)

    cel_rules = (
        CelRule(
            rule="!has(self.schedule) || has(self.dataset)",
            message="a scheduled suite needs a dataset",
            check=lambda s: s.schedule is None or s.dataset is not None,
            field_path=".dataset",
            reason="FieldValueRequired",
        ),
    )


class FailedExpectation(KubeModel):
    type: str = Field(max_length=128)
    column: str | None = Field(default=None, max_length=256)
    severity: Severity = Severity.ERROR
    observed_value: str | None = Field(default=None, max_length=1024)
    unexpected_sample: list[Annotated[str, Field(max_length=256)]] = Field(
        default_factory=list, max_length=20
    )


class ColumnDistribution(KubeModel):
    mean: float | None = None
    stddev: float | None = None
    p05: float | None = None
    p50: float | None = None
    p95: float | None = None


class DatasetMetrics(KubeModel):
    """What anomaly checks compare between runs."""

    row_count: int = Field(ge=0)
    schema_hash: str = Field(default="", max_length=64)
    columns: list[Annotated[str, Field(max_length=300)]] | None = Field(
        default=None, max_length=512, description="name:type of every column (last result only)."
    )
    newest: dict[str, datetime] = Field(
        default_factory=dict, description="Newest value of each freshness column."
    )
    distributions: dict[str, ColumnDistribution] = Field(default_factory=dict)


class ValidationResult(KubeModel):
    run_id: str = Field(max_length=63)
    time: datetime | None = None
    success: bool
    success_percent: float = Field(ge=0, le=100)
    evaluated: int = Field(ge=0)
    failed: int = Field(ge=0)
    failed_expectations: list[FailedExpectation] = Field(default_factory=list, max_length=50)
    report_path: str | None = Field(default=None, max_length=2048)
    duration_seconds: float | None = Field(default=None, ge=0)
    error: str | None = Field(
        default=None,
        max_length=2048,
        description="Why the validation could not run (no verdict on the data).",
    )
    metrics: DatasetMetrics | None = None


class SuitePhase(StrEnum):
    PENDING = "Pending"
    READY = "Ready"
    PASSED = "Passed"
    FAILED = "Failed"


class ActiveValidation(KubeModel):
    run_id: str = Field(max_length=63)
    pod: str = Field(max_length=253)
    trigger: str = Field(max_length=32)
    start_time: datetime


class DataQualitySuiteStatus(KubeModel):
    observed_generation: int | None = None
    active: ActiveValidation | None = None
    last_schedule_time: datetime | None = None
    last_run_now: str | None = Field(
        default=None, max_length=253, description="The dataops.dev/run-now value already handled."
    )
    phase: SuitePhase = SuitePhase.PENDING
    conditions: Conditions
    expectation_count: int = 0
    last_result: ValidationResult | None = None
    history: list[ValidationResult] = Field(default_factory=list, max_length=20)


class DataQualitySuite(KubeModel):
    """A data quality suite."""

    api_version: Literal["dataops.dev/v1alpha1"] = "dataops.dev/v1alpha1"
    kind: Literal["DataQualitySuite"] = "DataQualitySuite"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DataQualitySuiteSpec
    status: DataQualitySuiteStatus | None = None

    cel_rules = (name_length_rule("DataQualitySuite"),)
