"""DataPolicy: governance rules for the pipelines a label selector picks."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from dataops.api.v1alpha1.base import KubeModel
from dataops.api.v1alpha1.common import Conditions, LabelSelector
from dataops.api.v1alpha1.meta import ObjectMeta, name_length_rule


class Enforcement(StrEnum):
    ENFORCE = "Enforce"
    AUDIT = "Audit"


class PiiClassification(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"
    ADDRESS = "address"
    NATIONAL_ID = "nationalId"
    CREDIT_CARD = "creditCard"
    IP_ADDRESS = "ipAddress"
    BANK_ACCOUNT = "bankAccount"
    DATE_OF_BIRTH = "dateOfBirth"
    OTHER = "other"


class MaskingMethod(StrEnum):
    HASH = "hash"
    REDACT = "redact"
    PARTIAL = "partial"
    NULLIFY = "nullify"
    NONE = "none"


class PiiColumn(KubeModel):
    """A column (exact name, or a regular expression when ``pattern`` is true) holding personal data."""

    column: str = Field(min_length=1, max_length=256)
    pattern: bool = False
    classification: PiiClassification
    masking: MaskingMethod = MaskingMethod.HASH


class RetentionRule(KubeModel):
    max_days: int = Field(ge=1, le=36500, description="Sinks may keep data at most this many days.")


class QualityGateRequirement(KubeModel):
    min_gates: int = Field(default=1, ge=1, le=32)
    blocking: bool = Field(default=True, description="Only gates with action block count.")


class SubjectKind(StrEnum):
    USER = "User"
    GROUP = "Group"
    SERVICE_ACCOUNT = "ServiceAccount"


class Subject(KubeModel):
    kind: SubjectKind
    name: str = Field(min_length=1, max_length=253)


class AccessRule(KubeModel):
    readers: list[Subject] = Field(default_factory=list, max_length=64)
    writers: list[Subject] = Field(default_factory=list, max_length=64)


class DataPolicySpec(KubeModel):
    pipeline_selector: LabelSelector = Field(default_factory=LabelSelector)
    enforcement: Enforcement = Enforcement.ENFORCE
    pii_columns: list[PiiColumn] = Field(default_factory=list, max_length=128)
    allowed_sinks: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(
        default_factory=list,
        max_length=64,
        description="Glob patterns (fnmatch) of sink paths or JDBC URLs; empty allows every sink.",
    )
    retention: RetentionRule | None = None
    required_quality_gates: QualityGateRequirement | None = None
    access: AccessRule | None = None


class PolicyPhase(StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    VIOLATED = "Violated"


class PipelineViolations(KubeModel):
    pipeline: str = Field(max_length=253)
    messages: list[Annotated[str, Field(max_length=1024)]] = Field(default_factory=list, max_length=32)


class DataPolicyStatus(KubeModel):
    observed_generation: int | None = None
    phase: PolicyPhase = PolicyPhase.PENDING
    conditions: Conditions
    selected_pipelines: int = 0
    violating_pipelines: int = 0
    violations: list[PipelineViolations] = Field(default_factory=list, max_length=100)


class DataPolicy(KubeModel):
    """A governance policy."""

    api_version: Literal["dataops.dev/v1alpha1"] = "dataops.dev/v1alpha1"
    kind: Literal["DataPolicy"] = "DataPolicy"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DataPolicySpec
    status: DataPolicyStatus | None = None

    cel_rules = (name_length_rule("DataPolicy"),)
