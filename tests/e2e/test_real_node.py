"""The proof that the product runs for real: on a kubelet + containerd node, from images built out of
runtime-images/, with the operator installed by its Helm chart under the chart's own RBAC, in
namespaces at the restricted Pod Security level. Small on purpose: one test per promise."""

from __future__ import annotations

import csv
import json
import shutil
import time
import urllib.error
import urllib.request
from collections import defaultdict
from typing import Any

import pytest
from pyspark.sql import SparkSession

from dataops.devcluster.realnode import NODE_NAME
from dataops.devcluster.services import KafkaBroker
from dataops.kube.client import DATA_PIPELINE, DATA_QUALITY_SUITE, LEASE, POD
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.conftest import (
    OPERATOR_NAMESPACE,
    DataVolume,
    RealCluster,
    helm,
    helm_values,
    real_node_spark,
    wait_for,
)

pytestmark = pytest.mark.realnode

RUN_NOW = "dataops.dev/run-now"
RUN_TIMEOUT = 300


# -- helpers ------------------------------------------------------------------------------------


def _http(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _stage_input(volume: DataVolume) -> None:
    target = volume.host_path / "in"
    target.mkdir()
    for name in ("orders.csv", "customers.csv"):
        shutil.copy(EXAMPLES / "data" / name, target / name)


def _expected_revenue() -> dict[str, tuple[int, float]]:
    """Revenue per country of completed orders, computed without Spark."""
    with (EXAMPLES / "data" / "customers.csv").open() as fh:
        country = {row["customer_id"]: row["country"] for row in csv.DictReader(fh)}
    counts: dict[str, int] = defaultdict(int)
    sums: dict[str, float] = defaultdict(float)
    with (EXAMPLES / "data" / "orders.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["status"] == "completed" and row["customer_id"] in country:
                counts[country[row["customer_id"]]] += 1
                sums[country[row["customer_id"]]] += float(row["amount"])
    return {c: (counts[c], round(sums[c], 2)) for c in counts}


def _pipeline(name: str, volume: DataVolume, *, sinks: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    csv_options = {"header": "true", "inferSchema": "true"}
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": name},
        "spec": {
            "sources": [
                {
                    "name": "orders",
                    "file": {
                        "path": volume.pod_path("in", "orders.csv"),
                        "format": "csv",
                        "options": csv_options,
                    },
                },
                {
                    "name": "customers",
                    "file": {
                        "path": volume.pod_path("in", "customers.csv"),
                        "format": "csv",
                        "options": csv_options,
                    },
                },
            ],
            "transforms": [
                {
                    "name": "completed_orders",
                    "sql": "SELECT order_id, customer_id, amount, order_date FROM orders "
                    "WHERE status = 'completed'",
                },
                {
                    "name": "revenue_by_country",
                    "sql": "SELECT c.country, count(*) AS orders, round(sum(o.amount), 2) AS revenue "
                    "FROM completed_orders o JOIN customers c ON o.customer_id = c.customer_id "
                    "GROUP BY c.country",
                },
            ],
            "sinks": sinks,
            "retry": {"maxRetries": 0},
            "timeoutSeconds": RUN_TIMEOUT,
            "spark": real_node_spark(
                volume, sparkConf={"spark.kubernetes.executor.deleteOnTermination": "false"}
            ),
            **spec,
        },
    }


def _run_now(cluster: RealCluster, namespace: str, name: str) -> float:
    cluster.kubectl("-n", namespace, "annotate", "dp", name, f"{RUN_NOW}={time.time_ns()}", "--overwrite")
    return time.monotonic()


def _finished_run(
    cluster: RealCluster, namespace: str, name: str, timeout: float = RUN_TIMEOUT
) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        body = cluster.kube.get(DATA_PIPELINE, namespace, name) or {}
        last = (body.get("status") or {}).get("lastRun")
        return body if last and last.get("outcome") in ("Succeeded", "Failed") else None

    try:
        result: dict[str, Any] = wait_for(
            finished, timeout=timeout, interval=2, what=f"a finished run of {name}"
        )
    except AssertionError:
        pods = cluster.kubectl("-n", namespace, "get", "pods", "-o", "wide", check=False).stdout
        logs = cluster.kubectl("-n", namespace, "logs", "-l", "spark-role=driver", "--tail=60", check=False)
        raise AssertionError(
            f"no finished run of {name}; pods:\n{pods}\ndriver log:\n{logs.stdout}{logs.stderr}"
        ) from None
    return result


def _condition(body: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (body.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), None)


def _is_true(cluster: RealCluster, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
    found = _condition(cluster.kube.get(DATA_PIPELINE, namespace, name) or {}, type_)
    return found if found and found["status"] == "True" else None


def _rows(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {r["name"]: r["rows"] for r in rows}


# -- 1. the operator from its chart ----------------------------------------------------------------


def test_operator_runs_from_its_helm_chart(real_cluster: RealCluster, helm_operator: str) -> None:
    pods = real_cluster.kube.list(
        POD, helm_operator, label_selector="app.kubernetes.io/name=dataops-operator"
    )
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE_NAME
        assert pod["spec"]["serviceAccountName"] == "dataops-operator"
        assert pod["status"]["phase"] == "Running"
    lease = wait_for(
        lambda: (
            (real_cluster.kube.get(LEASE, helm_operator, "dataops-operator") or {})
            .get("spec", {})
            .get("holderIdentity")
        ),
        timeout=60,
        what="a leader",
    )
    names = {p["metadata"]["name"] for p in pods}
    assert lease in names
    for pod in pods:
        ip, name = pod["status"]["podIP"], pod["metadata"]["name"]
        assert ip.startswith("10.245."), ip
        # Both replicas answer their probes through the pod network; only the leader leads.
        for path in ("/healthz", "/readyz"):
            status, _ = _http(f"http://{ip}:8081{path}")
            assert status == 200, f"{name} {path} answered {status}"
        status, metrics = _http(f"http://{ip}:8080/metrics")
        assert status == 200
        leader = 1.0 if name == lease else 0.0
        assert f"dataops_leader {leader}" in metrics, [m for m in metrics.splitlines() if "leader" in m]
    status, metrics = _http(
        f"http://{next(p['status']['podIP'] for p in pods if p['metadata']['name'] == lease)}:8080/metrics"
    )
    assert "dataops_reconcile_total" in metrics


# -- 2. a batch pipeline: driver, executor, real data -----------------------------------------------


def test_batch_pipeline_runs_driver_and_executor_and_writes_exact_results(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume, spark: SparkSession
) -> None:
    _stage_input(data_volume)
    sinks = [
        {
            "name": "revenue",
            "from": "revenue_by_country",
            "format": "parquet",
            "mode": "overwrite",
            "path": data_volume.pod_path("out", "revenue_parquet"),
        },
        {
            "name": "revenue_delta",
            "from": "revenue_by_country",
            "format": "delta",
            "mode": "overwrite",
            "path": data_volume.pod_path("out", "revenue_delta"),
        },
    ]
    real_cluster.apply(e2e_namespace, _pipeline("orders", data_volume, sinks=sinks))
    wait_for(lambda: _is_true(real_cluster, e2e_namespace, "orders", "Ready"), timeout=60, what="Ready")
    triggered = _run_now(real_cluster, e2e_namespace, "orders")
    wait_for(
        lambda: any(
            p["status"].get("phase") in ("Running", "Succeeded")
            for p in real_cluster.kube.list(POD, e2e_namespace, label_selector="spark-role=driver")
        ),
        timeout=120,
        interval=0.25,
        what="the driver pod running",
    )
    to_running = time.monotonic() - triggered
    body = _finished_run(real_cluster, e2e_namespace, "orders")
    elapsed = time.monotonic() - triggered
    last = body["status"]["lastRun"]
    assert last["outcome"] == "Succeeded", last.get("message")
    print(f"\nrun-now -> driver Running in {to_running:.1f}s, -> Succeeded in {elapsed:.1f}s")

    expected = _expected_revenue()
    for table in (
        spark.read.parquet(str(data_volume.host_path / "out" / "revenue_parquet")),
        spark.read.format("delta").load(str(data_volume.host_path / "out" / "revenue_delta")),
    ):
        got = {r["country"]: (r["orders"], r["revenue"]) for r in table.collect()}
        assert got == expected
    orders_lines = sum(1 for _ in (EXAMPLES / "data" / "orders.csv").open()) - 1
    assert _rows(last["rowsRead"])["orders"] == orders_lines
    assert _rows(last["rowsWritten"]) == {"revenue": len(expected), "revenue_delta": len(expected)}

    # The driver asked the API server for its executor, which ran on the real node too.
    executors = real_cluster.kube.list(POD, e2e_namespace, label_selector="spark-role=executor")
    assert executors, "the driver created no executor pod"
    assert all(e["spec"]["nodeName"] == NODE_NAME for e in executors)
    driver = real_cluster.kube.get(POD, e2e_namespace, last["driverPod"])
    assert driver is not None and driver["status"]["phase"] == "Succeeded"


def test_failing_sql_step_degrades_with_the_drivers_message(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume
) -> None:
    _stage_input(data_volume)
    doc = _pipeline(
        "broken",
        data_volume,
        sinks=[
            {
                "name": "out",
                "from": "revenue_by_country",
                "format": "parquet",
                "path": data_volume.pod_path("out", "x"),
            }
        ],
    )
    doc["spec"]["transforms"][1]["sql"] = "SELECT no_such_column FROM completed_orders"
    real_cluster.apply(e2e_namespace, doc)
    _run_now(real_cluster, e2e_namespace, "broken")
    body = _finished_run(real_cluster, e2e_namespace, "broken")
    assert body["status"]["lastRun"]["outcome"] == "Failed"
    degraded = wait_for(
        lambda: _is_true(real_cluster, e2e_namespace, "broken", "Degraded"), timeout=30, what="Degraded"
    )
    assert "revenue_by_country" in degraded["message"], degraded["message"]
    assert not (data_volume.host_path / "out" / "x").exists()


# -- 3. a failing quality gate publishes nothing ---------------------------------------------------


def test_failing_gate_publishes_nothing_and_reports_the_quarantine(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume
) -> None:
    _stage_input(data_volume)
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "small-orders"},
        "spec": {
            "expectations": [
                {"type": "expect_column_values_to_be_between", "column": "amount", "maxValue": 100}
            ]
        },
    }
    doc = _pipeline(
        "gated",
        data_volume,
        sinks=[
            {
                "name": "published",
                "from": "completed_orders",
                "format": "parquet",
                "path": data_volume.pod_path("out", "published"),
            }
        ],
        qualityGates=[
            {"suiteRef": {"name": "small-orders"}, "dataset": "completed_orders", "action": "block"}
        ],
    )
    real_cluster.apply(e2e_namespace, suite, doc)
    _run_now(real_cluster, e2e_namespace, "gated")
    body = _finished_run(real_cluster, e2e_namespace, "gated")
    last = body["status"]["lastRun"]
    assert last["outcome"] == "Failed"
    assert "small-orders" in last["message"] and "quarantine" in last["message"].lower(), last["message"]
    assert not (data_volume.host_path / "out" / "published").exists(), "a failed gate published data"
    quarantine = [w for w in last["message"].split() if w.startswith(data_volume.mount_path)]
    assert quarantine, last["message"]
    local = data_volume.host_path / quarantine[0].rstrip(".,;)'\"")[len(data_volume.mount_path) + 1 :]
    assert local.exists() and any(local.rglob("*.parquet")), f"no quarantined rows at {local}"


# -- 4. a standalone suite in a real validation pod ------------------------------------------------


def test_standalone_suite_runs_in_a_validation_pod(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume
) -> None:
    _stage_input(data_volume)
    placement = real_node_spark(data_volume)
    suite = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "orders-check", "annotations": {RUN_NOW: "1"}},
        "spec": {
            "dataset": {
                "path": data_volume.pod_path("in", "orders.csv"),
                "format": "csv",
                "options": {"header": "true", "inferSchema": "true"},
            },
            "resultsPath": data_volume.pod_path("results"),
            "expectations": [
                {"type": "expect_column_values_to_not_be_null", "column": "order_id"},
                {"type": "expect_column_values_to_be_between", "column": "amount", "maxValue": 100},
            ],
            "validator": {
                "imagePullPolicy": "Never",
                "nodeSelector": placement["nodeSelector"],
                "tolerations": placement["tolerations"],
                "volumes": placement["volumes"],
                "resources": {"cores": 1, "memory": "512m", "requestCores": "200m"},
            },
        },
    }
    real_cluster.apply(e2e_namespace, suite)
    body = wait_for(
        lambda: (
            (real_cluster.kube.get(DATA_QUALITY_SUITE, e2e_namespace, "orders-check") or {}).get("status")
            or {}
        ).get("lastResult"),
        timeout=RUN_TIMEOUT,
        interval=2,
        what="a validation result",
    )
    assert body["success"] is False and body["evaluated"] == 2 and body["failed"] == 1, body
    assert body["failedExpectations"][0]["column"] == "amount"
    assert body["metrics"]["rowCount"] == sum(1 for _ in (EXAMPLES / "data" / "orders.csv").open()) - 1
    reports = list((data_volume.host_path / "results").rglob("report.html"))
    assert reports, "the validation pod wrote no report"
    pods = real_cluster.kube.list(POD, e2e_namespace, label_selector="app.kubernetes.io/component=validator")
    assert pods and all(p["spec"]["nodeName"] == NODE_NAME for p in pods)


# -- 5. streaming from Kafka into Delta --------------------------------------------------------------


def test_streaming_pipeline_consumes_exactly_n_records_into_delta(
    real_cluster: RealCluster,
    e2e_namespace: str,
    data_volume: DataVolume,
    pod_broker: KafkaBroker,
    spark: SparkSession,
) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic, records = f"orders-{e2e_namespace}", 500
    admin = AdminClient({"bootstrap.servers": pod_broker.bootstrap})  # kept alive until the topic exists
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": pod_broker.bootstrap})
    for i in range(records):
        producer.produce(
            topic, key=str(i), value=json.dumps({"order_id": i, "amount": i * 1.5, "country": "FR"})
        )
    producer.flush(30)
    table = data_volume.pod_path("out", "stream_delta")
    doc = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "stream"},
        "spec": {
            "mode": "Streaming",
            "sources": [
                {
                    "name": "orders",
                    "kafka": {
                        "topic": topic,
                        "partitions": 2,
                        "bootstrapServers": pod_broker.pod_bootstrap,
                        "startingOffsets": "earliest",
                        "schema": [
                            {"name": "order_id", "type": "long", "nullable": False},
                            {"name": "amount", "type": "double"},
                            {"name": "country", "type": "string"},
                        ],
                    },
                }
            ],
            "sinks": [{"name": "lake", "from": "orders", "format": "delta", "path": table}],
            "streaming": {
                "triggerIntervalSeconds": 2,
                "checkpointLocation": data_volume.pod_path("checkpoints", "stream"),
            },
            "spark": real_node_spark(data_volume),
        },
    }
    real_cluster.apply(e2e_namespace, doc)
    host_table = data_volume.host_path / "out" / "stream_delta"

    def count() -> int:
        if not any((host_table / "_delta_log").glob("*.json")):  # no commit yet
            return 0
        return int(spark.read.format("delta").load(str(host_table)).count())

    wait_for(lambda: count() >= records, timeout=RUN_TIMEOUT, interval=3, what=f"{records} records in Delta")
    time.sleep(6)  # a few more triggers: nothing may be written twice
    frame = spark.read.format("delta").load(str(host_table))
    assert frame.count() == records
    assert frame.select("order_id").distinct().count() == records
    streaming = wait_for(
        lambda: (
            (real_cluster.kube.get(DATA_PIPELINE, e2e_namespace, "stream") or {}).get("status") or {}
        ).get("streaming"),
        timeout=90,
        interval=2,
        what="status.streaming",
    )
    assert streaming["state"] != "Unknown"
    real_cluster.kubectl("-n", e2e_namespace, "delete", "dp", "stream", "--wait=true", "--timeout=120s")


# -- 6. a launch the API server refuses ends Degraded, never loops ----------------------------------


def test_refused_driver_launch_degrades_within_the_timeout(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume
) -> None:
    real_cluster.apply(
        e2e_namespace,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "no-pods"},
            "spec": {"hard": {"pods": "0"}},
        },
    )
    doc = _pipeline(
        "refused",
        data_volume,
        sinks=[
            {
                "name": "out",
                "from": "revenue_by_country",
                "format": "parquet",
                "path": data_volume.pod_path("out", "y"),
            }
        ],
        retry={"maxRetries": 1, "backoffSeconds": 1},
        timeoutSeconds=60,
    )
    real_cluster.apply(e2e_namespace, doc)
    started = _run_now(real_cluster, e2e_namespace, "refused")
    degraded = wait_for(
        lambda: _is_true(real_cluster, e2e_namespace, "refused", "Degraded"),
        timeout=90,
        interval=1,
        what="Degraded after the refused launches",
    )
    assert time.monotonic() - started < 90
    assert "quota" in degraded["message"].lower(), degraded["message"]
    body = real_cluster.kube.get(DATA_PIPELINE, e2e_namespace, "refused") or {}
    assert body["status"]["lastRun"]["outcome"] == "Failed"
    assert body["status"]["lastRun"]["attempt"] == 2  # the first try and one retry, then it stops
    time.sleep(5)
    again = real_cluster.kube.get(DATA_PIPELINE, e2e_namespace, "refused") or {}
    assert again["status"]["lastRun"] == body["status"]["lastRun"], (
        "the refused launch is being retried forever"
    )
    assert not real_cluster.kube.list(POD, e2e_namespace)


def test_operator_pods_were_never_restarted(real_cluster: RealCluster, helm_operator: str) -> None:
    """Runs last (file order): the standby replica answered its liveness probe all along."""
    pods = real_cluster.kube.list(
        POD, helm_operator, label_selector="app.kubernetes.io/name=dataops-operator"
    )
    restarts = {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["restartCount"] for p in pods}
    assert set(restarts.values()) == {0}, restarts


# -- 6b. governance on the cluster: a DataPolicy masks classified columns in the driver pod ---------


def test_policy_masks_classified_columns_in_a_run_on_the_real_node(
    real_cluster: RealCluster, e2e_namespace: str, data_volume: DataVolume, spark: SparkSession
) -> None:
    """A DataPolicy classifies `email` (keyed hash, the key from a Secret the driver pod gets by
    reference) and `name` (redacted). The run on the real node writes neither in clear: not in the
    sink's files, the pipeline's status, the driver's log or the namespace's Events."""
    import hashlib
    import hmac

    _stage_input(data_volume)
    with (EXAMPLES / "data" / "customers.csv").open() as fh:
        people = list(csv.DictReader(fh))
    key = "e2e-masking-key-0123456789"
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mask-key"},
        "stringData": {"key": key},
    }
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "crm-pii"},
        "spec": {
            "pipelineSelector": {"matchLabels": {"team": "crm"}},
            "enforcement": "Audit",
            "piiColumns": [
                {"column": "email", "classification": "email", "masking": "hash"},
                {"column": "name", "classification": "name", "masking": "redact"},
            ],
            "maskingKey": {"secretName": "mask-key", "key": "key"},
        },
    }
    sinks = [
        {
            "name": "buyers",
            "from": "buyers",
            "format": "parquet",
            "mode": "overwrite",
            "path": data_volume.pod_path("out", "buyers"),
        }
    ]
    doc = _pipeline("buyers", data_volume, sinks=sinks)
    doc["metadata"]["labels"] = {"team": "crm"}
    doc["spec"]["transforms"].append(
        {
            "name": "buyers",
            "sql": "SELECT c.name, c.email, upper(c.email) AS contact, c.country, o.amount "
            "FROM completed_orders o JOIN customers c ON o.customer_id = c.customer_id",
        }
    )
    real_cluster.apply(e2e_namespace, secret, policy)
    real_cluster.apply(e2e_namespace, doc)
    wait_for(lambda: _is_true(real_cluster, e2e_namespace, "buyers", "Ready"), timeout=60, what="Ready")
    _run_now(real_cluster, e2e_namespace, "buyers")
    body = _finished_run(real_cluster, e2e_namespace, "buyers")
    assert body["status"]["lastRun"]["outcome"] == "Succeeded", body["status"]["lastRun"]
    rows = spark.read.parquet(str(data_volume.host_path / "out" / "buyers")).collect()
    assert rows
    by_hash = {hmac.new(key.encode(), p["email"].encode(), hashlib.sha256).hexdigest() for p in people}
    assert {r["email"] for r in rows} <= by_hash  # joins on the masked key still work
    planted = [p["email"] for p in people] + [p["email"].upper() for p in people]
    planted += [p["name"] for p in people]
    clear = set(planted)
    assert not [v for r in rows for v in r.asDict().values() if v in clear]  # every value, decoded
    files = b"".join(f.read_bytes() for f in (data_volume.host_path / "out").rglob("*") if f.is_file())
    driver_logs = real_cluster.kubectl(
        "-n", e2e_namespace, "logs", "-l", "spark-role=driver", "--tail=-1", check=False
    ).stdout
    events = real_cluster.kubectl("-n", e2e_namespace, "get", "events", "-o", "json").stdout
    status = json.dumps(body["status"])
    for where, text in (("files", files.decode("latin-1")), ("driver log", driver_logs)):
        assert not [v for v in planted if v in text], where
    for where, text in (("status", status), ("events", events)):
        assert not [v for v in planted if v in text], where
    masked = body["status"]["lastRun"].get("masked") or []
    assert {c for m in masked for c in m.get("columns", {})} >= {"email", "name", "contact"}, masked


# -- 7. the chart's upgrade and uninstall on the real node (last: they replace the operator) -------


def _operator_pods(cluster: RealCluster) -> list[dict[str, Any]]:
    return cluster.kube.list(
        POD, OPERATOR_NAMESPACE, label_selector="app.kubernetes.io/name=dataops-operator"
    )


def _ready_pod(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return pod["metadata"].get("deletionTimestamp") is None and any(
        c["type"] == "Ready" and c["status"] == "True" for c in conditions
    )


def test_helm_upgrade_rolls_the_operator_on_the_real_node(
    real_cluster: RealCluster,
    helm_operator: str,
    pod_broker: KafkaBroker,
    e2e_namespace: str,
    data_volume: DataVolume,
    tmp_path: Any,
) -> None:
    """`helm upgrade` with changed values replaces both replicas one at a time (maxUnavailable 0);
    the new leader takes the lease and reconciles, and the pipelines' status survives."""
    before = {p["metadata"]["name"] for p in _operator_pods(real_cluster)}
    assert len(before) == 2
    values = helm_values(real_cluster, pod_broker)
    values["resyncSeconds"] = 7  # a changed pod template: a rollout
    (tmp_path / "values.json").write_text(json.dumps(values))
    helm(
        real_cluster,
        "upgrade",
        "dataops",
        str(ROOT / "charts" / "dataops-operator"),
        "--namespace",
        helm_operator,
        "--values",
        str(tmp_path / "values.json"),
        "--wait",
        "--timeout",
        "240s",
    )
    history = json.loads(helm(real_cluster, "history", "dataops", "-n", helm_operator, "-o", "json").stdout)
    assert [(h["revision"], h["status"]) for h in history][-1] == (2, "deployed")

    def rolled() -> set[str] | None:
        pods = _operator_pods(real_cluster)
        names = {p["metadata"]["name"] for p in pods}
        done = len(pods) == 2 and not names & before and all(_ready_pod(p) for p in pods)
        return names if done else None

    after = wait_for(rolled, timeout=180, interval=1, what="two new Ready operator pods, the old ones gone")
    for pod in _operator_pods(real_cluster):
        assert pod["spec"]["nodeName"] == NODE_NAME
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env", [])}
        assert "7" in {v for k, v in env.items() if "RESYNC" in k}, env
    wait_for(
        lambda: (
            (real_cluster.kube.get(LEASE, helm_operator, "dataops-operator") or {})
            .get("spec", {})
            .get("holderIdentity")
            in after
        ),
        timeout=90,
        what="a new replica holding the lease",
    )
    # The new leader reconciles: a pipeline applied after the upgrade becomes Configured.
    sinks = [
        {
            "name": "out",
            "from": "completed_orders",
            "format": "parquet",
            "mode": "overwrite",
            "path": data_volume.pod_path("out", "after_upgrade"),
        }
    ]
    real_cluster.apply(e2e_namespace, _pipeline("after-upgrade", data_volume, sinks=sinks))
    wait_for(
        lambda: _is_true(real_cluster, e2e_namespace, "after-upgrade", "Configured"),
        timeout=90,
        what="the pipeline Configured by the upgraded operator",
    )


def test_helm_uninstall_removes_the_release(real_cluster: RealCluster, helm_operator: str) -> None:
    """Uninstall stops the operator's containers on the node and removes every object of the release;
    the CRDs (from the chart's crds/) and the users' pipelines stay, as Helm documents."""
    helm(real_cluster, "uninstall", "dataops", "--namespace", helm_operator, "--wait", "--timeout", "180s")
    wait_for(lambda: not _operator_pods(real_cluster), timeout=120, what="the operator pods gone")
    left = real_cluster.kubectl(
        "get",
        "deployments,services,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,"
        "poddisruptionbudgets,validatingadmissionpolicies,validatingadmissionpolicybindings",
        "-A",
        "-l",
        "app.kubernetes.io/instance=dataops",
        "-o",
        "name",
    ).stdout.split()
    assert left == []
    crds = real_cluster.kubectl("get", "crd", "-o", "name").stdout
    assert "datapipelines.dataops.dev" in crds
    assert real_cluster.kube.list(DATA_PIPELINE, None)
