"""Entry point of the operator process: logging, probes and metrics, leader election, then kopf."""

from __future__ import annotations

import logging
import os
import signal
import socket
from types import FrameType

import kopf
from prometheus_client import start_http_server

from dataops.handlers.health import HEALTH, serve_probes
from dataops.kube.client import KubeClient
from dataops.kube.lease import LeaderElector
from dataops.metrics import IS_LEADER
from dataops.settings import Settings, namespace_patterns

log = logging.getLogger(__name__)


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
    from dataops.handlers.operator import STOP  # registers the kopf handlers

    # Probes and metrics answer from the start: a standby waiting for the lease is alive (its
    # liveness probe passes) and ready as a standby, and its metrics say it is not the leader. The
    # standby state is set before the probes answer, or a probe in between sees "starting" (503).
    if settings.leader_election:
        HEALTH.standby()
    if settings.health_port:
        serve_probes(settings.health_port)
    if settings.metrics_port:
        start_http_server(settings.metrics_port)
    IS_LEADER.set(0)
    elector: LeaderElector | None = None

    def stop_waiting(signum: int, _frame: FrameType | None) -> None:
        log.info("%s while waiting for the lease: exiting", signal.Signals(signum).name)
        STOP.set()
        if elector is not None:
            elector.stop()

    # Until kopf runs (and installs its own), a signal ends the lease wait.
    signal.signal(signal.SIGTERM, stop_waiting)
    signal.signal(signal.SIGINT, stop_waiting)
    if settings.leader_election:
        identity = settings.pod_name or f"{socket.gethostname()}-{os.getpid()}"
        elector = LeaderElector(
            KubeClient.from_kubeconfig(settings.kubeconfig),
            namespace=settings.leader_election_namespace,
            name=settings.lease_name,
            identity=identity,
            duration=settings.lease_duration_seconds,
        )
        log.info("waiting for lease %s/%s as %s", elector.namespace, elector.name, identity)
        elector.acquire()
        if STOP.is_set():
            return 0
        HEALTH.lead()
        # Crash-only: a replica that lost the lease exits and is restarted as a standby.
        elector.keep_renewing(on_lost=lambda: os._exit(1))
    IS_LEADER.set(1)
    patterns = namespace_patterns(settings.namespace)
    try:
        kopf.run(standalone=True, clusterwide=not patterns, namespaces=patterns, stop_flag=STOP)
    finally:
        if elector is not None:
            elector.release()  # the standby takes over now, not after the lease duration
    return 0
