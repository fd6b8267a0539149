"""`dataops plan`: what applying manifests would make the operator do, offline. Pure.

For each DataPipeline: the DataPolicies among the manifests that select it and their admission
verdict (the same evaluation the API server's ValidatingAdmissionPolicy makes), the run plan the
driver would get (sources, steps, gates, sinks), the masking of every sink column the policies
classify (where declared schemas let the SQL be followed), and the children the operator applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, Enforcement
from dataops.plan.children import Manifest, Owner, desired_children
from dataops.plan.runplan import RunPlan, build_run_plan
from dataops.plan.sql_check import dataset_columns
from dataops.policy.evaluate import PolicyFinding, evaluate
from dataops.policy.masking import UnresolvedDerivation, masking_rules, plan_columns
from dataops.policy.quarantine import quarantine_refusals
from dataops.policy.selectors import selecting_policies

UID_PLACEHOLDER = "<assigned by the API server>"

NamedPolicy = tuple[str, str, DataPolicySpec]  # (namespace, name, spec)


@dataclass
class SinkMasking:
    sink: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> method, policy and why
    unknown: str | None = None  # why the columns could not be previewed
    refused: str | None = None  # the run would refuse to write this sink


@dataclass
class PipelinePreview:
    namespace: str
    name: str
    plan: RunPlan
    findings: list[PolicyFinding]
    masking: list[SinkMasking]
    children: list[Manifest]
    refused_sources: list[str] = field(default_factory=list)  # sources whose quarantine would leak

    @property
    def denied(self) -> bool:
        return any(f.blocking for f in self.findings)

    @property
    def refused_sinks(self) -> list[str]:
        return [m.sink for m in self.masking if m.refused]


def preview(
    pipeline: DataPipeline,
    policies: list[NamedPolicy],
    *,
    suites: dict[str, dict[str, Any]] | None = None,
) -> PipelinePreview:
    namespace = pipeline.metadata.namespace or "default"
    name = pipeline.metadata.name
    chosen = selecting_policies(namespace, pipeline.metadata.labels or {}, policies)
    rules = masking_rules(chosen)
    plan = build_run_plan(
        name=name,
        namespace=namespace,
        spec=pipeline.spec,
        suites=suites,
        masking=rules,
        pii_columns=[column for _, spec in chosen for column in spec.pii_columns],
    )
    owner = Owner(kind="DataPipeline", name=name, namespace=namespace, uid=UID_PLACEHOLDER)
    return PipelinePreview(
        namespace=namespace,
        name=name,
        plan=plan,
        findings=[evaluate(policy, spec, pipeline.spec) for policy, spec in chosen],
        masking=_masking(pipeline, plan) if rules else [],
        children=desired_children(owner=owner, plan=plan, spark=pipeline.spec.spark),
        refused_sources=[f"{path}: {why}" for path, why in quarantine_refusals(pipeline.spec.sources, rules)],
    )


def _masking(pipeline: DataPipeline, plan: RunPlan) -> list[SinkMasking]:
    columns = dataset_columns(pipeline.spec)
    sources = {s.name: columns.get(s.name) for s in pipeline.spec.sources}
    steps = {s.name: s.sql for s in plan.steps}
    found: list[SinkMasking] = []
    for sink in pipeline.spec.sinks:
        out = SinkMasking(sink=sink.name)
        output = columns.get(sink.from_)
        if output is None or any(c is None for c in sources.values()):
            out.unknown = "declare the sources' schemas to preview column by column"
            found.append(out)
            continue
        try:
            decided = plan_columns(
                rules=plan.masking,
                sink=sink.name,
                output_columns=output,
                from_=sink.from_,
                steps=steps,
                source_columns={k: v for k, v in sources.items() if v is not None},
            )
        except UnresolvedDerivation as exc:
            out.refused = str(exc)
        else:
            out.columns = {c: d.reason() for c, d in decided.items()}
        found.append(out)
    return found


def render(item: PipelinePreview) -> str:
    plan = item.plan
    lines = [f"DataPipeline {item.namespace}/{item.name} ({plan.mode}), plan {plan.digest()}"]
    lines.append("  sources: " + ", ".join(_source(s) for s in plan.sources))
    for step in plan.steps:
        kind = "model" if step.model is not None else "sql"
        reads = f" (reads {', '.join(step.depends_on)})" if step.depends_on else ""
        lines.append(f"  step {step.name}: {kind}{reads}")
    for gate in plan.quality_gates:
        suite = (gate.get("suiteRef") or {}).get("name")
        lines.append(f"  gate {suite} on {gate.get('dataset') or 'each sink'}: {gate.get('action')}")
    for sink in plan.sinks:
        spec = sink.spec
        where = spec.get("path") or (spec.get("jdbc") or {}).get("table")
        lines.append(f"  sink {sink.name} <- {sink.from_}: {spec.get('format')} {spec.get('mode')} {where}")
    if not item.findings:
        lines.append("  admission: no DataPolicy among the manifests selects it")
    for finding in item.findings:
        if not finding.violations:
            verdict = "allowed"
        elif finding.enforcement == Enforcement.ENFORCE:
            verdict = "DENIED: " + "; ".join(finding.violations)
        else:
            verdict = "allowed with warnings (Audit): " + "; ".join(finding.violations)
        lines.append(f"  admission: DataPolicy {finding.policy} ({finding.enforcement.value}): {verdict}")
    lines.extend(f"  masking: REFUSED: {why}" for why in item.refused_sources)
    for masking in item.masking:
        if masking.refused:
            lines.append(f"  masking: REFUSED: {masking.refused}")
        elif masking.unknown:
            lines.append(f"  masking: sink {masking.sink}: {masking.unknown}")
        elif not masking.columns:
            lines.append(f"  masking: sink {masking.sink}: no classified column")
        for column, why in masking.columns.items():
            lines.append(f"  masking: {masking.sink}.{column}: {why}")
    for child in item.children:
        lines.append(f"  applies {child['kind']} {child['metadata']['name']}")
    return "\n".join(lines)


def _source(source: dict[str, object]) -> str:
    name = str(source.get("name"))
    for kind in ("file", "kafka", "connector", "jdbc"):
        spec = source.get(kind)
        if isinstance(spec, dict):
            detail = spec.get("path") or spec.get("topic") or spec.get("table") or spec.get("class") or ""
            return f"{name} ({kind} {detail})".replace(" )", ")")
    return name
