"""Entry point of the operator process: logging, leader election, then kopf."""

from __future__ import annotations

import logging
import os
import socket

import kopf

from dataops.kube.client import KubeClient
from dataops.kube.lease import LeaderElector
from dataops.metrics import IS_LEADER
from dataops.settings import Settings, namespace_patterns


def run_operator(*, verbose: bool = False) -> int:
    settings = Settings.from_env()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # kopf logs every successful handler call at INFO
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig
    import dataops.handlers.operator  # noqa: F401  (registers the kopf handlers)

    if settings.leader_election:
        identity = settings.pod_name or f"{socket.gethostname()}-{os.getpid()}"
        elector = LeaderElector(
            KubeClient.from_kubeconfig(settings.kubeconfig),
            namespace=settings.leader_election_namespace,
            name=settings.lease_name,
            identity=identity,
            duration=settings.lease_duration_seconds,
        )
        elector.acquire()
        IS_LEADER.set(1)
        # Crash-only: a replica that lost the lease exits and is restarted as a standby.
        elector.keep_renewing(on_lost=lambda: os._exit(1))
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    patterns = namespace_patterns(settings.namespace)
    kopf.run(standalone=True, clusterwide=not patterns, namespaces=patterns, liveness_endpoint=liveness)
    return 0
