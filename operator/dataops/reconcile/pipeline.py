"""reconcile() for DataPipeline: plan -> apply -> observe -> status. No kopf here."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.common import ConditionType, LabelSelector, Reason
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    PipelineMode,
    PipelinePhase,
)
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.api.v1alpha1.meta import parse_time
from dataops.api.validation import format_path
from dataops.kube import events
from dataops.kube.apply import ensure
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, DATA_QUALITY_SUITE, KubeClient, KubeError
from dataops.kube.runs import LaunchRefused, launch, observe_drivers, retire, stop
from dataops.metrics.pipeline_facts import pipeline_facts
from dataops.metrics.pipelines import PIPELINES
from dataops.plan.children import Owner, desired_children, plan_config_map_name
from dataops.plan.runplan import PlanError, build_run_plan
from dataops.plan.scheduling import decide, refuse_launch
from dataops.plan.spark_driver import Launch
from dataops.plan.sql_guard import check_steps
from dataops.policy.deputy import pipeline_forbidden
from dataops.policy.evaluate import PolicyFinding, evaluate
from dataops.policy.masking import MaskingRule, keys_needed, masking_rules
from dataops.policy.quarantine import quarantine_refusals
from dataops.policy.selectors import selector_matches
from dataops.reconcile.common import Outcome, parse_status, utcnow, write_status
from dataops.reconcile.config import DEFAULT_RUN_CONFIG, RunConfig
from dataops.reconcile.sources import (
    FINALIZER,
    SourcesReport,
    cleanup,
    ensure_finalizer,
    has_streaming_sources,
    needs_finalizer,
    reconcile_sources,
)
from dataops.status.conditions import false, merge_conditions
from dataops.status.freshness import freshness_of
from dataops.status.pipeline import PipelineObservation, SourcesView, pipeline_status, streaming_status

log = logging.getLogger(__name__)
SOURCES_RETRY = timedelta(seconds=15)  # look again when Kafka or Connect was not reachable


def policy_findings(
    client: KubeClient, namespace: str, labels: dict[str, str], spec: DataPipelineSpec, *, max_age: float
) -> list[PolicyFinding]:
    policies = selecting_policies(client, namespace, labels, max_age=max_age)
    return sorted((evaluate(name, policy, spec) for name, policy in policies), key=lambda f: f.policy)


def selecting_policies(
    client: KubeClient,
    namespace: str,
    labels: dict[str, str],
    *,
    max_age: float,
    unusable: list[PlanError] | None = None,
) -> list[tuple[str, DataPolicySpec]]:
    """The valid DataPolicies of the namespace whose selector matches ``labels``, by name. A policy
    with piiColumns whose spec does not validate but whose selector matches is added to
    ``unusable`` (its masking rules cannot be applied, so the pipeline must not write)."""
    selecting = []
    policies = (
        client.list_recent(DATA_POLICY, namespace, max_age=max_age)
        if max_age
        else client.list(DATA_POLICY, namespace)
    )
    for body in policies:
        name = body["metadata"]["name"]
        try:
            policy = DataPolicySpec.model_validate(body.get("spec") or {})
        except ValidationError as exc:
            log.warning("skipping DataPolicy %s/%s: its spec does not validate", namespace, name)
            has_pii_rules = bool((body.get("spec") or {}).get("piiColumns"))
            if unusable is not None and has_pii_rules and _selector_matches_raw(body, labels):
                first = exc.errors()[0]
                unusable.append(
                    PlanError(
                        "policy",
                        f"DataPolicy {name!r} selects this pipeline but its spec does not validate "
                        f"(spec.{format_path(tuple(first['loc']))}: {first['msg']})",
                    )
                )
            continue
        if selector_matches(policy.pipeline_selector, labels):
            selecting.append((name, policy))
    return sorted(selecting, key=lambda p: p[0])


def _selector_matches_raw(body: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether an invalid policy's selector (if it parses on its own) matches."""
    try:
        selector = LabelSelector.model_validate((body.get("spec") or {}).get("pipelineSelector") or {})
    except ValidationError:
        return True  # cannot tell: assume it selects (refuse rather than write in clear)
    return selector_matches(selector, labels)


def referenced_suites(client: KubeClient, namespace: str, spec: DataPipelineSpec) -> dict[str, Any]:
    """The specs of the suites the gates reference, by name (None for those that do not exist)."""
    found: dict[str, Any] = {}
    for name in sorted({g.suite_ref.name for g in spec.quality_gates}):
        body = client.get(DATA_QUALITY_SUITE, namespace, name)
        found[name] = body.get("spec") if body is not None else None
    return found


def reconcile_pipeline(
    client: KubeClient,
    body: dict[str, Any],
    *,
    config: RunConfig = DEFAULT_RUN_CONFIG,
    now: datetime | None = None,
    verify_children: bool = True,
) -> Outcome:
    """Converge one DataPipeline. Safe to call any number of times, from any state.

    ``now`` is injectable so that schedules, backoffs and timeouts can be tested without waiting.
    ``verify_children=False`` skips reading the children back when neither the spec nor the plan
    changed (the caller reconciles with it on whenever a child itself changes, and periodically).
    """
    outcome = Outcome()
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    now = now or utcnow()
    previous = parse_status(DataPipelineStatus, body)
    if meta.get("deletionTimestamp"):
        if FINALIZER in (meta.get("finalizers") or []):
            _finalize(client, body, previous, config=config, now=now, outcome=outcome)
        return outcome
    before = previous.conditions if previous else []
    try:
        spec = DataPipelineSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        message = "; ".join(f"spec.{format_path(tuple(e['loc']))}: {e['msg']}" for e in exc.errors())[:4096]
        status = (previous or DataPipelineStatus(conditions=[])).model_copy(
            update={
                "observed_generation": meta.get("generation"),
                "phase": PipelinePhase.BLOCKED,
                "conditions": merge_conditions(
                    before,
                    [
                        false(ConditionType.READY, Reason.INVALID_SPEC, message),
                        false(ConditionType.CONFIGURED, Reason.INVALID_SPEC, message),
                    ],
                    generation=meta.get("generation"),
                    now=now,
                ),
            }
        )
        write_status(
            client,
            DATA_PIPELINE,
            body,
            current=status,
            conditions_before=before,
            now=now,
            outcome=outcome,
        )
        return outcome

    suites = referenced_suites(client, namespace, spec)
    missing = [n for n, suite in suites.items() if suite is None]
    masking_errors: list[PlanError] = []
    policies = selecting_policies(
        client,
        namespace,
        meta.get("labels") or {},
        max_age=config.policy_list_max_age,
        unusable=masking_errors,
    )
    rules = _masking_rules(policies, masking_errors)
    plan = build_run_plan(
        name=name,
        namespace=namespace,
        spec=spec,
        suites={n: suite for n, suite in suites.items() if suite is not None},
        masking=rules,
        pii_columns=[c for _, policy in policies for c in policy.pii_columns],
    )
    plan_errors = check_steps(spec) + masking_errors
    plan_errors += [PlanError(path, why) for path, why in quarantine_refusals(spec.sources, rules)]
    # What the operator will not do on the author's behalf: nothing is launched or contacted.
    forbidden = pipeline_forbidden(spec, config.allowlists())
    apply_error = None
    owner = Owner(kind="DataPipeline", name=name, namespace=namespace, uid=meta["uid"])
    # A pipeline seen for the first time has no children yet: apply them without reading first.
    first_time = previous is None or previous.plan_hash is None
    # Ready carries Configured's reason whenever the configuration failed.
    configured_before = next((c for c in before if c.type == ConditionType.READY), None)
    unchanged = (
        previous is not None
        and previous.observed_generation == meta.get("generation")
        and previous.plan_hash == plan.digest()
        and (configured_before is None or configured_before.reason != Reason.APPLY_FAILED)
    )
    if not plan_errors and (verify_children or not unchanged):
        try:
            for child in desired_children(owner=owner, plan=plan):
                if first_time:
                    client.apply(child)
                    outcome.children_written += 1
                else:
                    outcome.children_written += ensure(client, child)
        except KubeError as exc:
            apply_error = f"applying children failed: {exc}"
    findings = sorted((evaluate(n, policy, spec) for n, policy in policies), key=lambda f: f.policy)
    sources: SourcesReport | None = None
    if has_streaming_sources(spec) and not forbidden:
        if needs_finalizer(spec, config):
            ensure_finalizer(client, body)
        sources = reconcile_sources(client, body, spec, previous, config=config, now=now)
    can_start = not (
        plan_errors
        or forbidden
        or missing
        or apply_error
        or any(f.blocking for f in findings)
        or (sources and sources.blocking)
    )
    # Drivers are looked up while runs are active (and for a streaming job, which must not start
    # beside a driver that is still stopping); finished ones are retired then too.
    drivers = (
        observe_drivers(client, namespace, name, spec.spark.backend)
        if (previous is not None and previous.active_runs) or spec.mode == PipelineMode.STREAMING
        else {}
    )
    runs = decide(
        name=name,
        uid=meta["uid"],
        spec=spec,
        status=previous,
        drivers=drivers,
        annotations=meta.get("annotations") or {},
        created=parse_time(meta.get("creationTimestamp")) or now,
        now=now,
        can_start=can_start,
        continuous_key=plan.digest(),
    )
    observation = PipelineObservation(
        generation=meta.get("generation"),
        suspended=spec.suspend,
        missing_suites=missing,
        policy_findings=findings,
        plan_errors=plan_errors,
        forbidden=forbidden,
        apply_error=apply_error,
        plan_config_map=None if plan_errors else plan_config_map_name(name),
        plan_hash=None if plan_errors else plan.digest(),
        runs=runs,
        sources=SourcesView(sources.topics, sources.connectors, sources.restart_request, sources.errors)
        if sources is not None
        else None,
        streaming=streaming_status(spec, runs, drivers, previous),
        spec=spec,
        created=parse_time(meta.get("creationTimestamp")) or now,
    )
    status = pipeline_status(previous, observation, now=now)
    # Look again when a sink's data goes stale (its Fresh condition turns False without any event).
    runs.wake_at += [
        s.stale_at
        for s in freshness_of(spec, status, observation.created or now, now)
        if s.fresh is not False
    ]
    # Runs are recorded in status before their pods exist, so a restart never loses or repeats one.
    write_status(
        client,
        DATA_PIPELINE,
        body,
        current=status,
        conditions_before=before,
        now=now,
        outcome=outcome,
    )
    created = observation.created or now
    facts = pipeline_facts(spec, previous, status, drivers, created=created, now=now)
    PIPELINES.observe(namespace, name, facts)  # after the write: a failed write counts nothing
    refused = False
    for record in list(runs.launch):
        attempt = Launch(
            owner=owner,
            run_id=record.id,
            attempt=record.attempt,
            image=config.image,
            lineage_transport=config.lineage_transport,
            kafka_bootstrap=config.kafka_bootstrap,
            api_server_url=config.api_server_url,
            masking_keys=tuple(keys_needed(plan.masking)),
        )
        try:
            outcome.children_written += launch(client, attempt, spec)
        except LaunchRefused as exc:
            refuse_launch(runs, record, str(exc), name=name, spec=spec, now=now)
            refused = True
            continue
        outcome.launched.append(attempt.driver_pod_name)
    if refused:
        # The attempts the API server refused failed now, with its message: the one case with a
        # second status write (the first recorded the launch before its objects were created).
        written = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        observation = replace(
            observation, runs=runs, streaming=streaming_status(spec, runs, drivers, previous)
        )
        refused_status = pipeline_status(previous, observation, now=now)
        write_status(
            client,
            DATA_PIPELINE,
            {**body, "status": written},
            current=refused_status,
            conditions_before=status.conditions,
            now=now,
            outcome=outcome,
        )
        facts = pipeline_facts(spec, status, refused_status, drivers, created=created, now=now)
        PIPELINES.observe(namespace, name, facts)
    for pod in runs.delete:
        stop(client, namespace, pod, spec.spark.backend)
    for finished in runs.retire:
        retire(client, namespace, finished.name, spec.spark.backend)
    happened = [*runs.events, *(sources.events if sources else [])]
    if happened:
        events.record(client, body, happened, now=now)
        outcome.events.extend(f"{e.type}/{e.reason}" for e in happened)
    if sources is not None:
        runs.wake_at += sources.wake_at
        if sources.errors:
            runs.wake_at.append(now + SOURCES_RETRY)
    outcome.requeue_after = runs.requeue_after(now)
    return outcome


def _masking_rules(policies: list[tuple[str, DataPolicySpec]], errors: list[PlanError]) -> list[MaskingRule]:
    """The selecting policies' PII rules; a rule that cannot be used stops runs (never written in clear)."""
    try:
        return masking_rules(policies)
    except ValueError as exc:
        errors.append(PlanError("policy", str(exc)))
        return []


def _finalize(
    client: KubeClient,
    body: dict[str, Any],
    previous: DataPipelineStatus | None,
    *,
    config: RunConfig,
    now: datetime,
    outcome: Outcome,
) -> None:
    """The pipeline is being deleted: remove its connectors and owned topics, then the finalizer."""
    try:
        spec: DataPipelineSpec | None = DataPipelineSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        spec = None
    happened = cleanup(client, body, spec, previous, config)
    if happened:
        events.record(client, body, happened, now=now)
        outcome.events.extend(f"{e.type}/{e.reason}" for e in happened)


def references_suite(body: dict[str, Any], suite: str) -> bool:
    gates = (body.get("spec") or {}).get("qualityGates") or []
    return any((g.get("suiteRef") or {}).get("name") == suite for g in gates)
