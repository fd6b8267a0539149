"""DataPolicy: governance rules for the pipelines a label selector picks."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from dataops.api.v1alpha1.base import CelRule, KubeModel
from dataops.api.v1alpha1.common import Conditions, LabelSelector, ObjectName
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
    GENERALIZE = "generalize"
    TOKENIZE = "tokenize"


KEYED_MASKING = frozenset({MaskingMethod.HASH, MaskingMethod.TOKENIZE})


class GeneralizeTo(StrEnum):
    YEAR = "year"
    MONTH = "month"


class PiiColumn(KubeModel):
    """A column (exact name, or a regular expression when ``pattern`` is true) holding personal data.
    Both match column names case-insensitively, as Spark resolves them; a pattern must match the
    whole name."""

    column: str = Field(min_length=1, max_length=256)
    pattern: bool = False
    classification: PiiClassification
    masking: MaskingMethod = MaskingMethod.HASH
    keep_last: int = Field(
        default=4, ge=0, le=64, description="partial: how many trailing characters stay in clear."
    )
    generalize_to: GeneralizeTo = Field(
        default=GeneralizeTo.YEAR, description="generalize: dates and timestamps keep only the year or month."
    )


class MaskingKey(KubeModel):
    """A key of a Secret in the policy's namespace: the HMAC key of hash, the key behind tokenize."""

    secret_name: ObjectName
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")


class RetentionRule(KubeModel):
    max_days: int = Field(
        ge=1,
        le=36500,
        description="File sinks of Batch pipelines must set retentionDays of at most this many days. "
        "JDBC sinks and the sinks of Streaming pipelines cannot declare retentionDays; this rule "
        "does not apply to them.",
    )


class QualityGateRequirement(KubeModel):
    min_gates: int = Field(default=1, ge=1, le=32)
    blocking: bool = Field(default=True, description="Only gates with action block count.")


class SubjectKind(StrEnum):
    USER = "User"
    GROUP = "Group"
    SERVICE_ACCOUNT = "ServiceAccount"


class Subject(KubeModel):
    """Who gets access: a User, a Group, or a ServiceAccount (in ``namespace``, default the policy's)."""

    kind: SubjectKind
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Only for ServiceAccount subjects; defaults to the DataPolicy's namespace.",
    )

    cel_rules = (
        CelRule(
            rule="self.kind == 'ServiceAccount' || !has(self.namespace)",
            message="namespace is only allowed for ServiceAccount subjects",
            check=lambda s: s.kind == SubjectKind.SERVICE_ACCOUNT or s.namespace is None,
            field_path=".namespace",
        ),
        CelRule(
            rule="self.kind != 'ServiceAccount' || self.name.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",
            message="a ServiceAccount name must be a lowercase DNS subdomain",
            check=lambda s: (
                s.kind != SubjectKind.SERVICE_ACCOUNT
                or re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", s.name) is not None
            ),
            field_path=".name",
        ),
    )


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
        description="Glob patterns (fnmatch) of every location a pipeline writes: sink paths (a JDBC "
        "sink as <url>#<table>), sources' quarantinePath, model steps' path, stagingPath and "
        "streaming.checkpointLocation; empty allows every location.",
    )
    retention: RetentionRule | None = None
    required_quality_gates: QualityGateRequirement | None = None
    access: AccessRule | None = None
    masking_key: MaskingKey | None = Field(
        default=None, description="Required when a piiColumns entry uses hash or tokenize."
    )

    cel_rules = (
        CelRule(
            rule="has(self.maskingKey) || !has(self.piiColumns) || "
            "!self.piiColumns.exists(c, !has(c.masking) || c.masking == 'hash' || c.masking == 'tokenize')",
            message="maskingKey is required when a piiColumns entry uses masking hash or tokenize",
            check=lambda s: (
                s.masking_key is not None or not any(c.masking in KEYED_MASKING for c in s.pii_columns)
            ),
            field_path=".maskingKey",
            reason="FieldValueRequired",
        ),
    )


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
