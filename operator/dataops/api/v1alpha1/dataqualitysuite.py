"""DataQualitySuite: expectations (Great Expectations vocabulary) over a dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema
from pydantic.alias_generators import to_snake

from dataops.api.v1alpha1.base import CelRule, KubeModel, list_map, unique_names
from dataops.api.v1alpha1.common import Conditions, ScheduleSpec
from dataops.api.v1alpha1.datapipeline import FileFormat, PodResources, PodVolume, Toleration
from dataops.api.v1alpha1.expectations import (
    ARGUMENTS,
    EXPECTATIONS,
    MULTICOLUMN_IGNORE_ROW_IF,
    MULTICOLUMN_TYPES,
    PAIR_IGNORE_ROW_IF,
    PAIR_TYPES,
    types_accepting,
    types_needing_bound,
    types_requiring,
)
from dataops.api.v1alpha1.meta import ObjectMeta, name_length_rule

ExpectationType = StrEnum(  # type: ignore[misc]
    "ExpectationType", {name.upper(): name for name in EXPECTATIONS}
)

ColumnName = Annotated[str, Field(min_length=1, max_length=128)]

# A JSON scalar kept exactly as written (true stays a boolean, 2.0 a float, null a null): any JSON
# value at the schema level, narrowed to scalars by the rules below (CEL at the API server).
JsonScalar = Annotated[Any, WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True})]
# A bound: a number, a date or time (ISO 8601 text, compared as Great Expectations does) or a suite
# parameter {"$PARAMETER": "now() - timedelta(days=1)"} evaluated when the suite runs.
Bound = Annotated[Any, WithJsonSchema({"x-kubernetes-preserve-unknown-fields": True})]
PARAMETER = "$PARAMETER"
# Arguments of any JSON type: invisible to CEL at the API server (no declared type).
FREE_FORM_ARGUMENTS = ("minValue", "maxValue", "valueSet", "valuePairsSet")


def is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_parameter(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == [PARAMETER] and isinstance(value[PARAMETER], str)


def _valid_bound(value: Any) -> bool:
    return value is None or is_number(value) or isinstance(value, str) or is_parameter(value)


def _cel_list(names: list[str]) -> str:
    return "[" + ", ".join(json.dumps(n) for n in names) + "]"


def _type_not_in_or_set(types: frozenset[str], attr: str, e: Expectation) -> bool:
    return str(e.type) not in types or getattr(e, attr) is not None


def _unset_or_type_in(types: frozenset[str], attr: str, e: Expectation) -> bool:
    return getattr(e, attr) is None or str(e.type) in types


def _bounded(types: frozenset[str], e: Expectation) -> bool:
    return str(e.type) not in types or e.min_value is not None or e.max_value is not None


def _valid_bound_of(attr: str, e: Expectation) -> bool:
    return _valid_bound(getattr(e, attr))


def _placement_rules() -> list[CelRule]:
    """Which arguments each expectation type requires and accepts, as rules on an Expectation."""
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
    return rules


def _mentions_free_form(rule: CelRule) -> bool:
    return any(f"self.{argument}" in rule.rule for argument in FREE_FORM_ARGUMENTS)


# Rules CEL in the CRD can compile; the rest become ArgumentChecks (an admission policy at the API server).
_PLACEMENT = _placement_rules()
_ADMISSION_RULES = tuple(r for r in _PLACEMENT if not _mentions_free_form(r))
_RUN_TIME_RULES = tuple(r for r in _PLACEMENT if _mentions_free_form(r))


@dataclass(frozen=True)
class ArgumentCheck:
    """A rule on one expectation that CEL in the CRD cannot state (it reads a free-form argument): the
    API server enforces it through the ValidatingAdmissionPolicy generated from ``cel`` (a predicate
    over an expectation ``e`` of any JSON shape), ``dataops validate`` and the engines through ``check``."""

    argument: str
    message: str
    check: Callable[[Expectation], bool]
    cel: str


def _cel_type_in(value: str, *types: str) -> str:
    """CEL list literals must be homogeneous (``type(x) in [int, double]`` does not compile)."""
    return "(" + " || ".join(f"type({value}) == {t}" for t in types) + ")"


def _cel_bound(field: str) -> str:
    v = f"e.{field}"
    return (
        f"!has({v}) || {_cel_type_in(v, 'int', 'double', 'string')} || (type({v}) == map && size({v}) == 1"
        f" && '{PARAMETER}' in {v} && type({v}['{PARAMETER}']) == string)"
    )


def _cel_scalars(items: str) -> str:
    return f"{items}.all(v, !{_cel_type_in('v', 'map', 'list')})"


def _argument_checks() -> tuple[ArgumentCheck, ...]:
    checks = [
        ArgumentCheck((r.field_path or "").lstrip("."), r.message, r.check, r.rule.replace("self.", "e."))
        for r in _RUN_TIME_RULES
    ]
    for argument, attr in (("minValue", "min_value"), ("maxValue", "max_value")):
        checks.append(
            ArgumentCheck(
                argument,
                f'{argument} must be a number, an ISO 8601 date or time, or {{"{PARAMETER}": expression}}',
                partial(_valid_bound_of, attr),
                _cel_bound(argument),
            )
        )
    numbers = " && ".join(_cel_type_in(f"e.{b}", "int", "double") for b in ("minValue", "maxValue"))
    checks += [
        ArgumentCheck(
            "minValue",
            "minValue must not exceed maxValue",
            lambda e: not (is_number(e.min_value) and is_number(e.max_value)) or e.min_value <= e.max_value,
            f"!has(e.minValue) || !has(e.maxValue) || !({numbers})"
            " || double(e.minValue) <= double(e.maxValue)",
        ),
        ArgumentCheck(
            "valueSet",
            "valueSet items must be strings, numbers, booleans or null",
            lambda e: e.value_set is None or all(is_scalar(v) for v in e.value_set),
            "!has(e.valueSet) || " + _cel_scalars("e.valueSet"),
        ),
        ArgumentCheck(
            "valuePairsSet",
            "valuePairsSet items must be pairs of strings, numbers, booleans or null",
            lambda e: (
                e.value_pairs_set is None or all(is_scalar(v) for pair in e.value_pairs_set for v in pair)
            ),
            "!has(e.valuePairsSet) || e.valuePairsSet.all(p, " + _cel_scalars("p") + ")",
        ),
    ]
    return tuple(checks)


ARGUMENT_CHECKS = _argument_checks()


def argument_problems(e: Expectation) -> list[str]:
    """``argument: message`` for every argument check ``e`` fails (empty when it passes them all)."""
    return [f"{c.argument}: {c.message}" for c in ARGUMENT_CHECKS if not c.check(e)]


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


class IgnoreRowIf(StrEnum):
    """Which rows a column-pair or multi-column expectation skips, by the values that are missing."""

    BOTH_VALUES_ARE_MISSING = "both_values_are_missing"
    EITHER_VALUE_IS_MISSING = "either_value_is_missing"
    NEITHER = "neither"
    ALL_VALUES_ARE_MISSING = "all_values_are_missing"
    ANY_VALUE_IS_MISSING = "any_value_is_missing"
    NEVER = "never"


class OutlierMethod(StrEnum):
    IQR = "iqr"
    STD = "std"


class MatchOn(StrEnum):
    ANY = "any"
    ALL = "all"


# An open end of a quantile's range is null (no bound on that side), as in Great Expectations.
OptionalLimit = Annotated[float | None, WithJsonSchema({"type": "number", "nullable": True})]


class QuantileRanges(KubeModel):
    quantiles: list[Annotated[float, Field(ge=0, le=1)]] = Field(min_length=1, max_length=32)
    value_ranges: list[Annotated[list[OptionalLimit], Field(min_length=2, max_length=2)]] = Field(
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
    value_set: list[JsonScalar] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Values of any JSON scalar type (strings, numbers, booleans, null), kept as written.",
    )
    regex: str | None = Field(default=None, min_length=1, max_length=1024)
    type_name: str | None = Field(default=None, max_length=64)
    value: int | None = Field(default=None, ge=0)
    sum_total: float | None = None
    quantile_ranges: QuantileRanges | None = None
    min_value: Bound = Field(
        default=None,
        description='A number, an ISO 8601 date or time, or {"$PARAMETER": "now() - timedelta(days=7)"}.',
    )
    max_value: Bound = Field(default=None, description="As minValue.")
    strict_min: bool | None = None
    strict_max: bool | None = None
    exact_match: bool | None = None
    or_equal: bool | None = None
    column_index: int | None = Field(
        default=None, ge=0, description="expect_column_to_exist: the column's position (0 is the first)."
    )
    strictly: bool | None = Field(default=None, description="increasing/decreasing: no two equal values.")
    regex_list: list[Annotated[str, Field(min_length=1, max_length=1024)]] | None = Field(
        default=None, min_length=1, max_length=64
    )
    match_on: MatchOn | None = Field(
        default=None, description="match_regex_list: a value matches any (default) or all of the regexes."
    )
    strftime_format: str | None = Field(default=None, min_length=1, max_length=256)
    json_schema: Annotated[
        dict[str, Any] | None,
        WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
    ] = Field(default=None, description="A JSON Schema every value (JSON text) must satisfy.")
    type_list: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, min_length=1, max_length=64
    )
    threshold: float | None = Field(default=None, description="z-scores: the largest z-score allowed.")
    double_sided: bool | None = Field(
        default=None, description="z-scores: compare |z| (true) or z (false) with the threshold."
    )
    value_pairs_set: list[Annotated[list[JsonScalar], Field(min_length=2, max_length=2)]] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Allowed [columnA value, columnB value] pairs.",
    )
    ignore_row_if: IgnoreRowIf | None = Field(
        default=None,
        description="Column pairs: both_values_are_missing (default), either_value_is_missing or neither; "
        "column lists: all_values_are_missing (default), any_value_is_missing or never.",
    )
    ties_okay: bool | None = Field(
        default=None, description="most_common_value: a tie between values in the set and out of it passes."
    )
    method: OutlierMethod | None = Field(
        default=None, description="not_be_outliers: iqr (default, Tukey's fences) or std (mean +- k stdev)."
    )
    multiplier: float | None = Field(default=None, ge=0, description="not_be_outliers: the k of the fences.")
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
        *_ADMISSION_RULES,
        CelRule(
            rule=f"!has(self.ignoreRowIf) || !(self.type in {_cel_list(list(PAIR_TYPES))})"
            f" || self.ignoreRowIf in {_cel_list(list(PAIR_IGNORE_ROW_IF))}",
            message="ignoreRowIf of a column pair must be one of " + ", ".join(PAIR_IGNORE_ROW_IF),
            check=lambda e: (
                e.ignore_row_if is None
                or str(e.type) not in PAIR_TYPES
                or str(e.ignore_row_if) in PAIR_IGNORE_ROW_IF
            ),
            field_path=".ignoreRowIf",
        ),
        CelRule(
            rule=f"!has(self.ignoreRowIf) || !(self.type in {_cel_list(list(MULTICOLUMN_TYPES))})"
            f" || self.ignoreRowIf in {_cel_list(list(MULTICOLUMN_IGNORE_ROW_IF))}",
            message="ignoreRowIf of a column list must be one of " + ", ".join(MULTICOLUMN_IGNORE_ROW_IF),
            check=lambda e: (
                e.ignore_row_if is None
                or str(e.type) not in MULTICOLUMN_TYPES
                or str(e.ignore_row_if) in MULTICOLUMN_IGNORE_ROW_IF
            ),
            field_path=".ignoreRowIf",
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
            if isinstance(value, KubeModel):
                value = value.to_json()
            elif isinstance(value, StrEnum):
                value = value.value
            out[names.get(attr, attr)] = value
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
