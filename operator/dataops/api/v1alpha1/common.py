"""Types shared by every kind: conditions, references, selectors, schedules, resources."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from dataops.api.v1alpha1.base import CelRule, KubeModel

GROUP = "dataops.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# A name usable both as a Kubernetes-style identifier and as a Spark SQL view name.
IDENTIFIER_PATTERN = r"^[a-z_][a-z0-9_]*$"
Identifier = Annotated[
    str,
    Field(
        pattern=IDENTIFIER_PATTERN,
        min_length=1,
        max_length=63,
        description="Lower-case identifier (letters, digits, underscore); usable as a SQL view name.",
    ),
]
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ObjectName = Annotated[
    str,
    Field(
        pattern=DNS_LABEL_PATTERN,
        min_length=1,
        max_length=63,
        description="Name of a Kubernetes object in the same namespace.",
    ),
]
QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN, max_length=32)]
SPARK_MEMORY_PATTERN = r"^[0-9]+[kmgtKMGT]?$"
SparkMemory = Annotated[
    str,
    Field(pattern=SPARK_MEMORY_PATTERN, max_length=16, description="Spark memory size such as 512m or 4g."),
]


def _cron_pattern() -> str:
    step = r"(/[1-9][0-9]?)?"

    def field_re(value: str) -> str:
        item = rf"(\*|({value})(-({value}))?){step}"
        return rf"{item}(,{item})*"

    months = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
    days = "SUN|MON|TUE|WED|THU|FRI|SAT"
    fields = [
        field_re(r"[0-5]?[0-9]"),
        field_re(r"[01]?[0-9]|2[0-3]"),
        field_re(r"0?[1-9]|[12][0-9]|3[01]"),
        field_re(rf"0?[1-9]|1[0-2]|{months}"),
        field_re(rf"[0-7]|{days}"),
    ]
    macros = "@yearly|@annually|@monthly|@weekly|@daily|@midnight|@hourly"
    return rf"^(({macros})|{' '.join(fields)})$"


CRON_PATTERN = _cron_pattern()
TIME_ZONE_PATTERN = r"^(UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+){1,2})$"


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    CONFIGURED = "Configured"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    REFERENCES_RESOLVED = "ReferencesResolved"
    POLICY_COMPLIANT = "PolicyCompliant"
    SOURCES_READY = "SourcesReady"
    QUALITY_PASSED = "QualityPassed"
    ADMISSION_POLICY_READY = "AdmissionPolicyReady"
    FRESH = "Fresh"


class Reason(StrEnum):
    """Bounded set of condition reasons (also the label values of failure metrics)."""

    RECONCILED = "Reconciled"
    RESOLVED = "Resolved"
    QUALITY_SUITE_NOT_FOUND = "QualitySuiteNotFound"
    COMPLIANT = "Compliant"
    NO_POLICY = "NoPolicySelected"
    POLICY_VIOLATION = "PolicyViolation"
    POLICY_AUDIT_VIOLATION = "PolicyViolationAudited"
    UNCLASSIFIED_PERSONAL_DATA = "UnclassifiedPersonalData"
    INVALID_SPEC = "InvalidSpec"
    INVALID_PLAN = "InvalidPlan"
    APPLY_FAILED = "ApplyFailed"
    IDLE = "Idle"
    SUSPENDED = "Suspended"
    AS_EXPECTED = "AsExpected"
    NOT_YET_VALIDATED = "NotYetValidated"
    NOT_OBSERVED = "NotObserved"
    SELECTING = "Selecting"
    RUN_IN_PROGRESS = "RunInProgress"
    RETRIES_EXHAUSTED = "RetriesExhausted"
    LAST_RUN_FAILED = "LastRunFailed"
    LAST_RUN_SUCCEEDED = "LastRunSucceeded"
    VALIDATION_PASSED = "ValidationPassed"
    VALIDATION_FAILED = "ValidationFailed"
    VALIDATION_ERROR = "ValidationError"
    NO_DATASET = "NoDataset"
    SOURCES_AVAILABLE = "SourcesAvailable"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    FORBIDDEN_BY_OPERATOR = "ForbiddenByOperator"
    ADMISSION_ENFORCED = "AdmissionEnforced"
    ADMISSION_AUDITED = "AdmissionAudited"
    NO_ADMISSION_RULES = "NoAdmissionRules"
    ADMISSION_TYPE_CHECK_FAILED = "AdmissionTypeCheckFailed"
    DATA_FRESH = "DataFresh"
    DATA_STALE = "DataStale"
    NOT_YET_PUBLISHED = "NotYetPublished"


class Condition(KubeModel):
    """A typed condition following the Kubernetes API conventions."""

    type: ConditionType
    status: ConditionStatus
    reason: Reason
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime | None = None
    observed_generation: int | None = Field(default=None, ge=0)


Conditions = Annotated[
    list[Condition],
    Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class LocalObjectReference(KubeModel):
    """Reference to an object of a known kind in the same namespace."""

    name: ObjectName


class SecretKeySelector(KubeModel):
    """A key of a Secret in the same namespace. Secret values never appear in status, events or logs."""

    name: ObjectName
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(KubeModel):
    key: str = Field(min_length=1, max_length=317)
    operator: SelectorOperator
    values: list[Annotated[str, Field(max_length=63)]] = Field(default_factory=list, max_length=64)


class LabelSelector(KubeModel):
    """Standard Kubernetes label selector. An empty selector selects everything."""

    match_labels: dict[str, Annotated[str, Field(max_length=63)]] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=32)


class ScheduleSpec(KubeModel):
    """When a workload runs: a cron schedule in a time zone."""

    cron: str | None = Field(
        default=None,
        max_length=128,
        description="Five-field cron expression (minute hour day-of-month month day-of-week) or a macro "
        "such as @hourly. Month and weekday names are upper case.",
    )
    time_zone: str = Field(default="UTC", pattern=TIME_ZONE_PATTERN, max_length=64)

    cel_rules = (
        CelRule(
            rule=f"!has(self.cron) || self.cron.matches(r'{CRON_PATTERN}')",
            message="cron must be five fields (minute hour day-of-month month day-of-week) "
            "with values in range, "
            "or a macro such as @hourly",
            check=lambda s: s.cron is None or re.fullmatch(CRON_PATTERN, s.cron) is not None,
            field_path=".cron",
        ),
    )
