"""Thin kopf adapters: watch events -> Reconciler. All logic lives in reconcile/."""

from __future__ import annotations

import asyncio
import copy
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from dataops.api.v1alpha1 import GROUP, VERSION
from dataops.handlers.health import HEALTH
from dataops.handlers.runner import Reconciler
from dataops.kube.client import KubeClient
from dataops.metrics import count_api_requests
from dataops.plan.children import COMPONENT_LABEL, MANAGED_BY, PIPELINE_LABEL
from dataops.plan.validation import SUITE_LABEL, VALIDATOR_COMPONENT
from dataops.policy.access import POLICY_LABEL
from dataops.policy.deputy import parse_patterns
from dataops.reconcile.config import RunConfig
from dataops.settings import Settings

log = logging.getLogger(__name__)

_state: dict[str, Reconciler] = {}
_MANAGED = {"app.kubernetes.io/managed-by": MANAGED_BY}

STOP = threading.Event()
"""Set on SIGTERM/SIGINT; the operator's entry point passes it to kopf.run(stop_flag=...)."""


def request_stop(reason: str) -> None:
    """Stop taking work at once (reconciles waiting to start return, fan-outs end), then let kopf
    stop its watches. Without the first step kopf waits for every queued handler ("Will escalate")."""
    log.info("%s: stopping", reason)
    runner = _state.get("reconciler")
    if runner is not None:
        runner.stop()
    STOP.set()


def reconciler() -> Reconciler:
    return _state["reconciler"]


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    config = Settings.from_env()
    # kopf's own bookkeeping lives under our API group (none is written for event handlers).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.enabled = False  # we post our own Events, only on transitions
    settings.execution.max_workers = config.workers
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    client = KubeClient.from_kubeconfig(config.kubeconfig)
    count_api_requests(client.request_counts)
    run_config = RunConfig(
        image=config.runtime_image,
        validator_image=config.validator_image,
        lineage_transport=config.lineage_transport,
        api_server_url=config.api_server_url,
        policy_list_max_age=2.0,
        kafka_bootstrap=config.kafka_bootstrap,
        connect_url=config.connect_url,
        streams_backend=config.streams_backend,
        strimzi_kafka_cluster=config.strimzi_kafka_cluster,
        strimzi_connect_cluster=config.strimzi_connect_cluster,
        allowed_images=parse_patterns(config.allowed_images),
        allowed_service_accounts=parse_patterns(config.allowed_service_accounts),
        allowed_connect_urls=parse_patterns(config.allowed_connect_urls),
        allowed_kafka_bootstrap=parse_patterns(config.allowed_kafka_bootstrap),
    )
    runner = Reconciler(client, namespace=config.namespace, run_config=run_config)
    runner.start_workers(config.workers)
    runner.start_resync(config.resync_seconds)
    _state["reconciler"] = runner
    log.info("dataops-operator started (namespace=%s)", config.namespace or "<all>")


@kopf.on.startup()
async def handlers_running(**_: Any) -> None:
    """After configure(): /readyz turns 200 and /healthz starts watching kopf's event loop; our
    signal handlers replace kopf's (which would cancel handlers but not stop the reconciles)."""
    loop = asyncio.get_running_loop()
    HEALTH.handlers_started(loop)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, request_stop, signal.Signals(signum).name)


@kopf.on.cleanup()
def shutdown(**_: Any) -> None:
    runner = _state.pop("reconciler", None)
    if runner is not None:
        runner.stop()


@kopf.on.event(GROUP, VERSION, "datapipelines")
def pipeline_event(
    type: str | None,
    namespace: str | None,
    name: str,
    labels: Mapping[str, str],
    meta: Mapping[str, Any],
    body: Mapping[str, Any],
    **_: Any,
) -> None:
    ns = namespace or ""
    pipeline_labels = dict(labels)
    seen = dict(body)  # copied when kept

    def act() -> None:
        reconciler().offer_body("DataPipeline", ns, name, None if type == "DELETED" else seen)
        if type != "DELETED":
            # The initial listing (type None, e.g. after a restart) verifies children; edits change
            # the generation, which makes the reconcile verify them anyway.
            reconciler().enqueue("DataPipeline", ns, name, verify=type is None)
        else:  # after any reconcile in flight, the runner finds it gone and drops its metric series
            reconciler().enqueue("DataPipeline", ns, name)
        reconciler().policies_selecting(ns, pipeline_labels)

    reconciler().unless_own_write("DataPipeline", ns, name, meta.get("resourceVersion"), act)


@kopf.on.event(GROUP, VERSION, "dataqualitysuites")
def suite_event(
    type: str | None, namespace: str | None, name: str, meta: Mapping[str, Any], **_: Any
) -> None:
    ns = namespace or ""
    generation = meta.get("generation")

    def act() -> None:
        if type != "DELETED":
            reconciler().enqueue("DataQualitySuite", ns, name)
        # Pipelines carry the suite's spec in their plan: only a spec change (or deletion) concerns
        # them.
        if reconciler().spec_changed("DataQualitySuite", ns, name, generation, type == "DELETED"):
            reconciler().pipelines_referencing_suite(ns, name)

    reconciler().unless_own_write("DataQualitySuite", ns, name, meta.get("resourceVersion"), act)


@kopf.on.event(GROUP, VERSION, "datapolicies")
def policy_event(
    type: str | None,
    namespace: str | None,
    name: str,
    meta: Mapping[str, Any],
    spec: Mapping[str, Any],
    **_: Any,
) -> None:
    ns = namespace or ""
    generation = meta.get("generation")
    policy_spec = copy.deepcopy(dict(spec))

    def act() -> None:
        if type != "DELETED":
            reconciler().enqueue("DataPolicy", ns, name)
        # Its status writes change nothing for the pipelines; a spec change or deletion does.
        if reconciler().spec_changed("DataPolicy", ns, name, generation, type == "DELETED"):
            reconciler().pipelines_of_policy(ns, name, policy_spec, deleted=type == "DELETED")

    reconciler().unless_own_write("DataPolicy", ns, name, meta.get("resourceVersion"), act)


def _child_changed(type: str, namespace: str | None, labels: Mapping[str, str], **_: Any) -> None:
    """A child was changed or deleted by someone else: converge its pipeline again."""
    pipeline = labels.get(PIPELINE_LABEL)
    if pipeline and namespace and type in ("MODIFIED", "DELETED"):
        reconciler().enqueue("DataPipeline", namespace, pipeline)
    policy = labels.get(POLICY_LABEL)  # a DataPolicy's access Role or RoleBinding
    if policy and namespace and type in ("MODIFIED", "DELETED"):
        reconciler().enqueue("DataPolicy", namespace, policy)


def _follow_pods(kind: str, owner_label: str, *, verify: bool, background: bool) -> Callable[..., None]:
    """A pod's phase moved (or it went away): reconcile its owner (a driver's pipeline follows its
    run, a validation pod's suite records the result). ``background``: recording a driver's phase
    waits behind launches (a burst of triggers gets its pods first)."""

    def handler(
        type: str,
        namespace: str | None,
        name: str,
        labels: Mapping[str, str],
        status: Mapping[str, Any],
        **_: Any,
    ) -> None:
        owner = labels.get(owner_label)
        if not owner or not namespace:
            return
        if reconciler().pod_phase_changed(namespace, name, status.get("phase"), type == "DELETED"):
            reconciler().enqueue(kind, namespace, owner, verify=verify, background=background)

    return handler


kopf.on.event("v1", "pods", labels={**_MANAGED, "spark-role": "driver"}, id="driver-pods")(
    _follow_pods("DataPipeline", PIPELINE_LABEL, verify=False, background=True)
)
kopf.on.event("v1", "pods", labels={**_MANAGED, COMPONENT_LABEL: VALIDATOR_COMPONENT}, id="validator-pods")(
    _follow_pods("DataQualitySuite", SUITE_LABEL, verify=True, background=False)
)

for _group_version, _plural in (
    ("v1", "configmaps"),
    ("v1", "serviceaccounts"),
    ("rbac.authorization.k8s.io/v1", "roles"),
    ("rbac.authorization.k8s.io/v1", "rolebindings"),
):
    kopf.on.event(_group_version, _plural, labels=_MANAGED, id=f"child-{_plural}")(_child_changed)
