"""What one DataPipeline reconcile decides from what it read. Pure.

A reconcile is observe -> decide -> act (``dataops.reconcile.pipeline``):

- observe: one :class:`PipelineWorld` holds every read (the object, its suites, the selecting
  DataPolicies, the drivers);
- decide: :func:`configure` turns it into the run plan, its children and what blocks the pipeline;
  :func:`decide_pipeline` turns that plus the outcome of the child and source writes into the runs
  to start, stop and retire, the status and when to look again;
- act: the writes, in order (children, sources, status, launches, stops, Events).

The one write whose outcome changes the decision afterwards is a launch the API server refuses:
:func:`after_refused_launches` recomputes the status for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, DataPipelineStatus, RunRecord
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.plan.children import Manifest, Owner, desired_children, plan_config_map_name
from dataops.plan.runplan import PlanError, RunPlan, build_run_plan
from dataops.plan.scheduling import DriverState, RunDecision, decide, refuse_launch
from dataops.plan.sql_guard import check_steps
from dataops.policy.deputy import Allowlists, Forbidden, pipeline_forbidden
from dataops.policy.evaluate import PolicyFinding, evaluate
from dataops.policy.masking import MaskingRule, masking_rules
from dataops.policy.quarantine import quarantine_refusals
from dataops.status.freshness import freshness_of
from dataops.status.pipeline import PipelineObservation, SourcesView, pipeline_status, streaming_status


@dataclass(frozen=True)
class PipelineWorld:
    """Everything one reconcile of a DataPipeline read from the cluster."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    annotations: dict[str, str]
    created: datetime | None
    spec: DataPipelineSpec
    previous: DataPipelineStatus | None
    suites: dict[str, Any]  # name -> the suite's spec, None when it does not exist
    policies: list[tuple[str, DataPolicySpec]]  # the valid DataPolicies that select the pipeline
    unusable_policies: list[PlanError] = field(default_factory=list)  # selecting, invalid, with PII rules
    drivers: dict[tuple[str, int], DriverState] = field(default_factory=dict)

    @property
    def owner(self) -> Owner:
        return Owner(kind="DataPipeline", name=self.name, namespace=self.namespace, uid=self.uid)


@dataclass(frozen=True)
class Configuration:
    """The run plan, the children that carry it, and what keeps the pipeline from running."""

    plan: RunPlan
    plan_errors: list[PlanError]
    forbidden: list[Forbidden]
    findings: list[PolicyFinding]
    missing_suites: list[str]
    children: list[Manifest]
    apply_children: bool  # False: nothing changed since the children were last applied
    first_time: bool  # no children yet: apply without reading them first

    @property
    def blocked(self) -> bool:
        return bool(
            self.plan_errors
            or self.forbidden
            or self.missing_suites
            or any(f.blocking for f in self.findings)
        )


def usable_masking_rules(
    policies: list[tuple[str, DataPolicySpec]], errors: list[PlanError]
) -> list[MaskingRule]:
    """The selecting policies' PII rules; a rule that cannot be used stops runs (never written in clear)."""
    try:
        return masking_rules(policies)
    except ValueError as exc:
        errors.append(PlanError("policy", str(exc)))
        return []


def configure(world: PipelineWorld, allow: Allowlists, *, verify_children: bool) -> Configuration:
    spec, previous = world.spec, world.previous
    masking_errors = list(world.unusable_policies)
    rules = usable_masking_rules(world.policies, masking_errors)
    plan = build_run_plan(
        name=world.name,
        namespace=world.namespace,
        spec=spec,
        suites={n: suite for n, suite in world.suites.items() if suite is not None},
        masking=rules,
        pii_columns=[c for _, policy in world.policies for c in policy.pii_columns],
    )
    plan_errors = check_steps(spec) + masking_errors
    plan_errors += [PlanError(path, why) for path, why in quarantine_refusals(spec.sources, rules)]
    # Ready carries Configured's reason whenever the configuration failed.
    ready_before = next(
        (c for c in (previous.conditions if previous else []) if c.type == ConditionType.READY), None
    )
    unchanged = (
        previous is not None
        and previous.observed_generation == world.generation
        and previous.plan_hash == plan.digest()
        and (ready_before is None or ready_before.reason != Reason.APPLY_FAILED)
    )
    return Configuration(
        plan=plan,
        plan_errors=plan_errors,
        # What the operator will not do on the author's behalf: nothing is launched or contacted.
        forbidden=pipeline_forbidden(spec, allow),
        findings=sorted((evaluate(n, policy, spec) for n, policy in world.policies), key=lambda f: f.policy),
        missing_suites=[n for n, suite in world.suites.items() if suite is None],
        children=desired_children(owner=world.owner, plan=plan, spark=spec.spark),
        apply_children=not plan_errors and (verify_children or not unchanged),
        first_time=previous is None or previous.plan_hash is None,
    )


@dataclass
class PipelineDecision:
    runs: RunDecision
    observation: PipelineObservation
    status: DataPipelineStatus


def decide_pipeline(
    world: PipelineWorld,
    conf: Configuration,
    *,
    apply_error: str | None,
    sources: SourcesView | None,
    sources_blocking: bool,
    now: datetime,
) -> PipelineDecision:
    spec = world.spec
    created = world.created or now
    runs = decide(
        name=world.name,
        uid=world.uid,
        spec=spec,
        status=world.previous,
        drivers=world.drivers,
        annotations=world.annotations,
        created=created,
        now=now,
        can_start=not (conf.blocked or apply_error or sources_blocking),
        continuous_key=conf.plan.digest(),
    )
    observation = PipelineObservation(
        generation=world.generation,
        suspended=spec.suspend,
        missing_suites=conf.missing_suites,
        policy_findings=conf.findings,
        plan_errors=conf.plan_errors,
        forbidden=conf.forbidden,
        apply_error=apply_error,
        plan_config_map=None if conf.plan_errors else plan_config_map_name(world.name),
        plan_hash=None if conf.plan_errors else conf.plan.digest(),
        runs=runs,
        sources=sources,
        streaming=streaming_status(spec, runs, world.drivers, world.previous),
        spec=spec,
        created=created,
    )
    status = pipeline_status(world.previous, observation, now=now)
    # Look again when a sink's data goes stale (its Fresh condition turns False without any event).
    runs.wake_at += [s.stale_at for s in freshness_of(spec, status, created, now) if s.fresh is not False]
    return PipelineDecision(runs=runs, observation=observation, status=status)


def after_refused_launches(
    world: PipelineWorld, decision: PipelineDecision, refused: list[tuple[RunRecord, str]], *, now: datetime
) -> DataPipelineStatus:
    """The attempts the API server refused failed now, with its message (retried with backoff or
    failing the run, as spec.retry says); ``decision.runs`` is amended and the status recomputed."""
    for record, message in refused:
        refuse_launch(decision.runs, record, message, name=world.name, spec=world.spec, now=now)
    decision.observation = replace(
        decision.observation,
        runs=decision.runs,
        streaming=streaming_status(world.spec, decision.runs, world.drivers, world.previous),
    )
    return pipeline_status(world.previous, decision.observation, now=now)
