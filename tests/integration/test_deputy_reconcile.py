"""No confused deputy at reconcile time, against the real API server: a pipeline or suite that names an
image, ServiceAccount, Kafka Connect URL, Kafka bootstrap or sparkConf key the operator does not allow
gets a condition/Event naming the field, and nothing is launched or contacted; the same resource goes
through once the operator's allowlist admits it (so the checks can fail)."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import DATA_PIPELINE, DATA_QUALITY_SUITE, EVENT, POD, KubeClient
from dataops.reconcile.config import RunConfig
from dataops.reconcile.pipeline import reconcile_pipeline
from dataops.reconcile.suite import reconcile_suite
from tests.integration.conftest import RUNTIME_IMAGE, condition

pytestmark = pytest.mark.cluster

RUN_NOW = {"dataops.dev/run-now": "1"}
CONFIG = RunConfig(image=RUNTIME_IMAGE, validator_image="registry.test/dataops/validator:default")


class Recorder:
    """A TCP listener that counts who connects (a stand-in Kafka Connect / Kafka broker)."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                recorder.paths.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error_code":404,"message":"not found"}')

            do_GET = do_PUT = do_POST = do_DELETE = _any

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.server.shutdown()


def _bind_outside_ephemeral_ports(sock: socket.socket) -> None:
    """A port below Linux's ephemeral range (32768-60999), where every test broker got its port
    (bound to port 0), and below the NodePort range (30000-32767): a Kafka client an earlier test
    left reconnecting to its stopped broker can never reach this socket and pass for a contact the
    operator made."""
    for port in random.sample(range(20_000, 30_000), 50):
        try:
            sock.bind(("127.0.0.1", port))
            return
        except OSError:
            continue
    raise RuntimeError("no free port in 20000-29999")


@pytest.fixture
def broker_socket() -> Iterator[tuple[socket.socket, list[Any]]]:
    sock = socket.socket()
    _bind_outside_ephemeral_ports(sock)
    sock.listen(8)
    sock.settimeout(0.2)
    yield sock, []
    sock.close()


def _apply(cp: ControlPlane, ns: str, doc: dict[str, Any]) -> None:
    cp.kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(doc))


def _pipeline(name: str, sources: list[dict[str, Any]] | None = None, **spark: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name, "annotations": RUN_NOW},
        "spec": {
            "sources": sources or [{"name": "orders", "file": {"path": "/data/orders"}}],
            "sinks": [{"name": "out", "from": "orders", "path": "/data/out"}],
            "spark": spark,
        },
    }


def _reconcile(kube: KubeClient, ns: str, name: str, config: RunConfig) -> Any:
    body = kube.get(DATA_PIPELINE, ns, name)
    assert body is not None
    return reconcile_pipeline(kube, body, config=config)


def _events(kube: KubeClient, ns: str, name: str) -> list[str]:
    return [
        f"{e['type']}/{e['reason']}: {e['message']}"
        for e in kube.list(EVENT, ns)
        if e["involvedObject"]["name"] == name
    ]


@pytest.mark.parametrize(
    ("spark", "field", "allowed"),
    [
        (
            {"image": "evil.example/miner:1"},
            "spec.spark.image",
            replace(CONFIG, allowed_images=("evil.example/*",)),
        ),
        (
            {"sparkConf": {"spark.kubernetes.authenticate.driver.serviceAccountName": "default"}},
            "spec.spark.sparkConf['spark.kubernetes.authenticate.driver.serviceAccountName']",
            None,  # no setting admits a denied key
        ),
        (
            {"sparkConf": {"spark.sql.x": "1\nspark.kubernetes.namespace=kube-system"}},
            "spec.spark.sparkConf['spark.sql.x']",
            None,
        ),
    ],
)
def test_forbidden_spark_settings_launch_nothing(
    control_plane: ControlPlane,
    kube: KubeClient,
    manual_namespace: str,
    spark: dict[str, Any],
    field: str,
    allowed: RunConfig | None,
) -> None:
    ns = manual_namespace
    _apply(control_plane, ns, _pipeline("p", **spark))
    outcome = _reconcile(kube, ns, "p", CONFIG)
    assert outcome.launched == []
    assert kube.list(POD, ns) == []
    ready = condition(kube.get(DATA_PIPELINE, ns, "p"), "Ready")
    assert ready is not None and ready["status"] == "False" and ready["reason"] == "ForbiddenByOperator"
    assert field in ready["message"]
    assert any("ForbiddenByOperator" in e and field in e for e in _events(kube, ns, "p"))
    assert _reconcile(kube, ns, "p", CONFIG).launched == []  # stays refused
    if allowed is not None:
        outcome = _reconcile(kube, ns, "p", allowed)
        assert len(outcome.launched) == 1
        pod = kube.get(POD, ns, outcome.launched[0])
        assert pod is not None and pod["spec"]["containers"][0]["image"] == spark["image"]


def test_connector_at_a_url_the_operator_does_not_allow_is_never_contacted(
    control_plane: ControlPlane, kube: KubeClient, manual_namespace: str, recorder: Recorder
) -> None:
    ns = manual_namespace
    control_plane.kubectl("-n", ns, "create", "secret", "generic", "db", "--from-literal=password=hunter2")
    sources = [
        {"name": "orders", "file": {"path": "/data/orders"}},
        {
            "name": "cdc",
            "connector": {
                "connectorClass": "io.debezium.connector.postgresql.PostgresConnector",
                "connectUrl": recorder.url,
                "configFromSecrets": [
                    {"configKey": "database.password", "secretKeyRef": {"name": "db", "key": "password"}}
                ],
            },
        },
    ]
    _apply(control_plane, ns, _pipeline("cdc", sources))
    config = replace(CONFIG, connect_url="http://connect.kafka.svc:8083")
    outcome = _reconcile(kube, ns, "cdc", config)
    assert recorder.paths == [] and outcome.launched == []
    ready = condition(kube.get(DATA_PIPELINE, ns, "cdc"), "Ready")
    assert ready is not None and ready["reason"] == "ForbiddenByOperator"
    assert (
        "spec.sources[1].connector.connectUrl" in ready["message"]
        and "allowedConnectUrls" in ready["message"]
    )
    # Deleting it does not reach out either (the finalizer was never added: nothing to clean up).
    assert "dataops.dev/streaming-cleanup" not in (kube.get(DATA_PIPELINE, ns, "cdc") or {})["metadata"].get(
        "finalizers", []
    )
    # Allowed by the operator: now it is contacted (the check above could have failed).
    _reconcile(kube, ns, "cdc", replace(config, allowed_connect_urls=("http://127.0.0.1:*",)))
    assert recorder.paths, "an allowed Connect URL is used"


def test_kafka_bootstrap_the_operator_does_not_allow_is_never_contacted(
    control_plane: ControlPlane,
    kube: KubeClient,
    manual_namespace: str,
    broker_socket: tuple[socket.socket, list[Any]],
) -> None:
    ns = manual_namespace
    sock, _ = broker_socket
    port = sock.getsockname()[1]
    sources = [{"name": "orders", "kafka": {"topic": "orders", "bootstrapServers": f"127.0.0.1:{port}"}}]
    _apply(control_plane, ns, _pipeline("k", sources))
    _reconcile(kube, ns, "k", CONFIG)
    with pytest.raises(TimeoutError):
        sock.accept()
    ready = condition(kube.get(DATA_PIPELINE, ns, "k"), "Ready")
    assert ready is not None and "spec.sources[0].kafka.bootstrapServers" in ready["message"]


def test_suite_with_a_forbidden_validator_launches_no_pod(
    control_plane: ControlPlane, kube: KubeClient, manual_namespace: str
) -> None:
    ns = manual_namespace
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "s", "annotations": RUN_NOW},
        "spec": {
            "dataset": {"path": "/data/orders"},
            "expectations": [{"type": "expect_column_to_exist", "column": "id"}],
            "validator": {"image": "evil.example/v:1", "serviceAccountName": "warehouse-admin"},
        },
    }
    _apply(control_plane, ns, suite)
    body = kube.get(DATA_QUALITY_SUITE, ns, "s")
    assert body is not None
    outcome = reconcile_suite(kube, body, config=CONFIG)
    assert outcome.launched == [] and kube.list(POD, ns) == []
    status = (kube.get(DATA_QUALITY_SUITE, ns, "s") or {})["status"]
    error = status["lastResult"]["error"]
    assert "spec.validator.image" in error and "spec.validator.serviceAccountName" in error
    assert any("spec.validator.image" in e for e in _events(kube, ns, "s"))
    # Allowed: the next run-now launches the pod as that ServiceAccount.
    control_plane.kubectl("-n", ns, "annotate", "dqs", "s", "dataops.dev/run-now=2", "--overwrite")
    body = kube.get(DATA_QUALITY_SUITE, ns, "s")
    assert body is not None
    allowed = replace(
        CONFIG, allowed_images=("evil.example/*",), allowed_service_accounts=(f"{ns}/warehouse-*",)
    )
    outcome = reconcile_suite(kube, body, config=allowed)
    (pod_name,) = outcome.launched
    pod = kube.get(POD, ns, pod_name)
    assert pod is not None and pod["spec"]["serviceAccountName"] == "warehouse-admin"
