"""Static policy checks of a pipeline spec. Pure.

What can be decided from the manifest is decided here (allowed sinks, retention, required
quality gates); masking of PII columns is applied by the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, GateAction, Sink
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, Enforcement


@dataclass(frozen=True)
class PolicyFinding:
    """What one policy finds wrong with one pipeline."""

    policy: str
    enforcement: Enforcement
    violations: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return bool(self.violations) and self.enforcement == Enforcement.ENFORCE


def sink_location(sink: Sink) -> str:
    if sink.jdbc is not None:
        return f"{sink.jdbc.url}#{sink.jdbc.table}"
    return sink.path or ""


def pipeline_violations(policy: DataPolicySpec, pipeline: DataPipelineSpec) -> list[str]:
    """Human-readable violations, in a stable order."""
    violations: list[str] = []
    if policy.allowed_sinks:
        for sink in pipeline.sinks:
            location = sink_location(sink)
            if not any(fnmatchcase(location, pattern) for pattern in policy.allowed_sinks):
                violations.append(
                    f"sink {sink.name!r} writes to {location!r}, which no allowedSinks pattern matches"
                )
    if policy.retention is not None:
        limit = policy.retention.max_days
        for sink in pipeline.sinks:
            if sink.retention_days is None:
                violations.append(
                    f"sink {sink.name!r} sets no retentionDays; policy requires at most {limit}"
                )
            elif sink.retention_days > limit:
                violations.append(
                    f"sink {sink.name!r} keeps data {sink.retention_days} days; policy allows {limit}"
                )
    requirement = policy.required_quality_gates
    if requirement is not None:
        gates = [
            g for g in pipeline.quality_gates if not requirement.blocking or g.action == GateAction.BLOCK
        ]
        if len(gates) < requirement.min_gates:
            kind = "blocking quality gate(s)" if requirement.blocking else "quality gate(s)"
            violations.append(
                f"pipeline has {len(gates)} {kind}; policy requires at least {requirement.min_gates}"
            )
    return violations


def evaluate(policy_name: str, policy: DataPolicySpec, pipeline: DataPipelineSpec) -> PolicyFinding:
    return PolicyFinding(policy_name, policy.enforcement, pipeline_violations(policy, pipeline))
