"""reconcile() for DataPipeline: plan -> apply -> observe -> status. No kopf here."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from dataops.api.v1alpha1.common import LabelSelector
from dataops.api.v1alpha1.datapipeline import (
    DataPipelineSpec,
    DataPipelineStatus,
    PipelineMode,
    RunRecord,
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
from dataops.plan.pipeline_decision import (
    Configuration,
    PipelineWorld,
    after_refused_launches,
    configure,
    decide_pipeline,
)
from dataops.plan.runplan import PlanError
from dataops.plan.spark_driver import Launch
from dataops.policy.evaluate import PolicyFinding, evaluate
from dataops.policy.masking import keys_needed
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
from dataops.status.pipeline import SourcesView, invalid_spec_status

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
        status = invalid_spec_status(previous, meta.get("generation"), message, now=now)
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

    world = observe(client, body, spec, previous, config=config)
    conf = configure(world, config.allowlists(), verify_children=verify_children)
    # act: the children, then the streaming sources; both outcomes feed the decision on runs
    apply_error = apply_children(client, conf, outcome)
    sources: SourcesReport | None = None
    if has_streaming_sources(spec) and not conf.forbidden:
        if needs_finalizer(spec, config):
            ensure_finalizer(client, body)
        sources = reconcile_sources(client, body, spec, previous, config=config, now=now)
    decision = decide_pipeline(
        world,
        conf,
        apply_error=apply_error,
        sources=SourcesView(sources.topics, sources.connectors, sources.restart_request, sources.errors)
        if sources is not None
        else None,
        sources_blocking=bool(sources and sources.blocking),
        now=now,
    )
    runs, status = decision.runs, decision.status
    # Runs are recorded in status before their pods exist, so a restart never loses or repeats one.
    write_status(
        client, DATA_PIPELINE, body, current=status, conditions_before=before, now=now, outcome=outcome
    )
    created = world.created or now
    facts = pipeline_facts(spec, previous, status, world.drivers, created=created, now=now)
    PIPELINES.observe(namespace, name, facts)  # after the write: a failed write counts nothing
    refused = launch_runs(client, world, conf, runs.launch, config=config, outcome=outcome)
    if refused:
        # The one case with a second status write (the first recorded the launch before its
        # objects were created).
        written = status.model_dump(by_alias=True, exclude_none=True, mode="json")
        refused_status = after_refused_launches(world, decision, refused, now=now)
        write_status(
            client,
            DATA_PIPELINE,
            {**body, "status": written},
            current=refused_status,
            conditions_before=status.conditions,
            now=now,
            outcome=outcome,
        )
        facts = pipeline_facts(spec, status, refused_status, world.drivers, created=created, now=now)
        PIPELINES.observe(namespace, name, facts)
    for pod in runs.delete:
        stop(client, namespace, pod, spec.spark.backend)
    for finished in runs.retire:
        retire(client, namespace, finished, spec.spark.backend)
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


def observe(
    client: KubeClient,
    body: dict[str, Any],
    spec: DataPipelineSpec,
    previous: DataPipelineStatus | None,
    *,
    config: RunConfig,
) -> PipelineWorld:
    """Every read of a reconcile: the suites the gates name, the selecting DataPolicies and, while
    runs are active (or for a streaming job, which must not start beside a driver still stopping),
    the drivers."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    unusable: list[PlanError] = []
    policies = selecting_policies(
        client, namespace, meta.get("labels") or {}, max_age=config.policy_list_max_age, unusable=unusable
    )
    drivers = (
        observe_drivers(client, namespace, name, spec.spark.backend)
        if (previous is not None and previous.active_runs) or spec.mode == PipelineMode.STREAMING
        else {}
    )
    return PipelineWorld(
        namespace=namespace,
        name=name,
        uid=meta["uid"],
        generation=meta.get("generation"),
        annotations=meta.get("annotations") or {},
        created=parse_time(meta.get("creationTimestamp")),
        spec=spec,
        previous=previous,
        suites=referenced_suites(client, namespace, spec),
        policies=policies,
        unusable_policies=unusable,
        drivers=drivers,
    )


def apply_children(client: KubeClient, conf: Configuration, outcome: Outcome) -> str | None:
    """Server-side apply of the children; a pipeline seen for the first time has none yet, so they
    are applied without reading them first. Returns why applying failed, if it did."""
    if not conf.apply_children:
        return None
    try:
        for child in conf.children:
            if conf.first_time:
                client.apply(child)
                outcome.children_written += 1
            else:
                outcome.children_written += ensure(client, child)
    except KubeError as exc:
        return f"applying children failed: {exc}"
    return None


def launch_runs(
    client: KubeClient,
    world: PipelineWorld,
    conf: Configuration,
    launches: list[RunRecord],
    *,
    config: RunConfig,
    outcome: Outcome,
) -> list[tuple[RunRecord, str]]:
    """Create each attempt's objects; returns the attempts the API server refused, with its message."""
    refused = []
    for record in list(launches):
        attempt = Launch(
            owner=world.owner,
            run_id=record.id,
            attempt=record.attempt,
            image=config.image,
            lineage_transport=config.lineage_transport,
            kafka_bootstrap=config.kafka_bootstrap,
            api_server_url=config.api_server_url,
            masking_keys=tuple(keys_needed(conf.plan.masking)),
        )
        try:
            outcome.children_written += launch(client, attempt, world.spec)
        except LaunchRefused as exc:
            refused.append((record, str(exc)))
            continue
        outcome.launched.append(attempt.driver_pod_name)
    return refused


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
