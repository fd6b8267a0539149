"""Static policy checks of a pipeline spec. Pure.

What can be decided from the manifest is decided here (allowed sinks, retention, required
quality gates); masking of PII columns is applied by the runtime. ``allowedSinks`` applies to every
location the pipeline writes (:mod:`dataops.policy.writes`: sinks, quarantine, model versions,
staging, streaming checkpoints), each normalised before it is matched
(:mod:`dataops.policy.locations`), so ``..`` cannot lead out of a pattern. ``retention.maxDays``
applies to the sinks that can declare ``retentionDays`` (file sinks of Batch pipelines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, GateAction, PipelineMode, Sink, SinkFormat
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, Enforcement
from dataops.policy.locations import normalize_location
from dataops.policy.writes import write_locations


@dataclass(frozen=True)
class PolicyFinding:
    """What one policy finds wrong with one pipeline."""

    policy: str
    enforcement: Enforcement
    violations: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return bool(self.violations) and self.enforcement == Enforcement.ENFORCE


@dataclass(frozen=True)
class Violation:
    field: str  # e.g. spec.sinks[2].path: the same field the API server's admission policy names
    message: str


def retention_enforceable(pipeline: DataPipelineSpec, sink: Sink) -> bool:
    """Whether ``retentionDays`` can be set on ``sink`` (the CRD refuses it on a JDBC sink and on the
    sinks of a Streaming pipeline): only there does ``retention.maxDays`` require it."""
    return pipeline.mode != PipelineMode.STREAMING and sink.format != SinkFormat.JDBC


def violations(policy: DataPolicySpec, pipeline: DataPipelineSpec) -> list[Violation]:
    """Every violation, in a stable order. The admission policy compiled from ``policy``
    (:mod:`dataops.policy.admission`) finds the same ones."""
    found: list[Violation] = []
    if policy.allowed_sinks:
        for write in write_locations(pipeline):
            normal = normalize_location(write.location)
            if normal.text is None:
                found.append(
                    Violation(
                        write.field, f"{write.writer} writes to {write.location!r}, which {normal.problem}"
                    )
                )
            elif not any(fnmatchcase(normal.text, pattern) for pattern in policy.allowed_sinks):
                shown = (
                    repr(write.location)
                    if normal.text == write.location
                    else f"{write.location!r} (normalised {normal.text!r})"
                )
                found.append(
                    Violation(
                        write.field,
                        f"{write.writer} writes to {shown}, which no allowedSinks pattern matches",
                    )
                )
    if policy.retention is not None:
        limit = policy.retention.max_days
        for index, sink in enumerate(pipeline.sinks):
            if not retention_enforceable(pipeline, sink):
                continue  # the policy says nothing about retention the pipeline cannot declare
            field_path = f"spec.sinks[{index}].retentionDays"
            if sink.retention_days is None:
                found.append(
                    Violation(
                        field_path,
                        f"sink {sink.name!r} sets no retentionDays; policy requires at most {limit}",
                    )
                )
            elif sink.retention_days > limit:
                found.append(
                    Violation(
                        field_path,
                        f"sink {sink.name!r} keeps data {sink.retention_days} days; policy allows {limit}",
                    )
                )
    requirement = policy.required_quality_gates
    if requirement is not None:
        gates = [
            g for g in pipeline.quality_gates if not requirement.blocking or g.action == GateAction.BLOCK
        ]
        if len(gates) < requirement.min_gates:
            kind = "blocking quality gate(s)" if requirement.blocking else "quality gate(s)"
            found.append(
                Violation(
                    "spec.qualityGates",
                    f"pipeline has {len(gates)} {kind}; policy requires at least {requirement.min_gates}",
                )
            )
    return found


def pipeline_violations(policy: DataPolicySpec, pipeline: DataPipelineSpec) -> list[str]:
    """Human-readable violations, in a stable order."""
    return [v.message for v in violations(policy, pipeline)]


def evaluate(policy_name: str, policy: DataPolicySpec, pipeline: DataPipelineSpec) -> PolicyFinding:
    return PolicyFinding(policy_name, policy.enforcement, pipeline_violations(policy, pipeline))
