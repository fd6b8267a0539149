"""The driver pod, Service and spark.properties have the shape spark-submit's cluster mode creates."""

from __future__ import annotations

from typing import Any

import yaml

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, PodResources
from dataops.plan.children import Owner
from dataops.plan.spark_driver import (
    Launch,
    build_native_run,
    build_spark_application,
    memory_mib,
    pod_memory_mib,
)

OWNER = Owner(kind="DataPipeline", name="orders-daily", namespace="sales", uid="uid-1")
LAUNCH = Launch(owner=OWNER, run_id="s1a2b3c4d", attempt=2, image="img:1")


def _spec(example_pipeline: dict[str, Any]) -> DataPipelineSpec:
    example_pipeline["spec"]["spark"] = {
        "driver": {"cores": 2, "memory": "2g"},
        "executor": {"instances": 3, "cores": 2, "memory": "4g"},
        "dynamicAllocation": {"enabled": True, "minExecutors": 1, "maxExecutors": 8},
        "nodeSelector": {"pool": "spark"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "spark", "effect": "NoSchedule"}],
        "sparkConf": {"spark.sql.shuffle.partitions": "64"},
        "podAnnotations": {"team": "sales"},
    }
    example_pipeline["spec"]["sources"].append(
        {
            "name": "db",
            "jdbc": {
                "url": "jdbc:postgresql://db/app",
                "table": "t",
                "credentials": {"passwordSecretRef": {"name": "db-creds", "key": "password"}},
            },
        }
    )
    return DataPipelineSpec.model_validate(example_pipeline["spec"])


def test_memory_with_overhead() -> None:
    assert memory_mib("512m") == 512 and memory_mib("2g") == 2048 and memory_mib("1t") == 1024 * 1024
    assert pod_memory_mib(PodResources()) == 1024 + 384
    assert pod_memory_mib(PodResources(memory="8g")) == 8192 + 819


def test_native_run_shape(example_pipeline: dict[str, Any]) -> None:
    conf, service, pod = build_native_run(LAUNCH, _spec(example_pipeline))
    base = "orders-daily-s1a2b3c4d-2"
    assert (conf["metadata"]["name"], service["metadata"]["name"], pod["metadata"]["name"]) == (
        f"{base}-conf",
        f"{base}-svc",
        f"{base}-driver",
    )
    for obj in (conf, service, pod):
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
        labels = obj["metadata"]["labels"]
        assert labels["dataops.dev/run-id"] == "s1a2b3c4d" and labels["dataops.dev/attempt"] == "2"
        assert labels["spark-app-selector"] == f"spark-{base}"

    assert pod["metadata"]["labels"]["spark-role"] == "driver"
    assert pod["metadata"]["annotations"] == {"team": "sales"}
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never" and spec["serviceAccountName"] == "orders-daily-runner"
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["nodeSelector"] == {"pool": "spark"} and spec["tolerations"][0]["key"] == "dedicated"
    (container,) = spec["containers"]
    assert container["args"] == [
        "driver",
        "--properties-file",
        "/opt/spark/conf/spark.properties",
        "--class",
        "org.apache.spark.deploy.PythonRunner",
        "local:///opt/dataops/spark_job.py",
    ]
    env = {e["name"]: e for e in container["env"]}
    assert env["SPARK_DRIVER_BIND_ADDRESS"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["DATAOPS_RUN_ID"]["value"] == "s1a2b3c4d"
    assert env["DATAOPS_SECRET_DB_CREDS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "db-creds",
        "key": "password",
    }
    assert {p["containerPort"] for p in container["ports"]} == {7078, 7079, 4040}
    assert container["resources"]["requests"] == {"cpu": "2", "memory": f"{2048 + 384}Mi"}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts == {"/opt/spark/conf": "spark-conf-volume-driver", "/etc/dataops/plan": "dataops-plan"}
    volumes = {v["name"]: v["configMap"]["name"] for v in spec["volumes"]}
    assert volumes == {"spark-conf-volume-driver": f"{base}-conf", "dataops-plan": "orders-daily-plan"}

    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"spark-app-selector": f"spark-{base}", "spark-role": "driver"}

    props = dict(line.split("=", 1) for line in conf["data"]["spark.properties"].splitlines())
    assert props["spark.kubernetes.driver.pod.name"] == f"{base}-driver"
    assert props["spark.driver.host"] == f"{base}-svc.sales.svc"
    assert props["spark.kubernetes.submitInDriver"] == "true"
    assert props["spark.kubernetes.resource.type"] == "python"
    assert props["spark.executor.instances"] == "3" and props["spark.executor.memory"] == "4g"
    assert (
        props["spark.dynamicAllocation.enabled"] == "true"
        and props["spark.dynamicAllocation.maxExecutors"] == "8"
    )
    assert props["spark.kubernetes.node.selector.pool"] == "spark"
    assert props["spark.sql.shuffle.partitions"] == "64"
    assert props["spark.kubernetes.executor.annotation.team"] == "sales"
    template = yaml.safe_load(conf["data"]["executor-pod-template.yaml"])
    assert template["spec"]["tolerations"][0]["value"] == "spark"


def test_spark_application_shape(example_pipeline: dict[str, Any]) -> None:
    app = build_spark_application(LAUNCH, _spec(example_pipeline))
    assert app["apiVersion"] == "sparkoperator.k8s.io/v1beta2" and app["kind"] == "SparkApplication"
    spec = app["spec"]
    assert (spec["type"], spec["mode"], spec["mainApplicationFile"]) == (
        "Python",
        "cluster",
        "local:///opt/dataops/spark_job.py",
    )
    assert spec["driver"]["serviceAccount"] == "orders-daily-runner"
    assert spec["executor"]["instances"] == 3
    assert spec["dynamicAllocation"] == {"enabled": True, "minExecutors": 1, "maxExecutors": 8}
    assert "spark.kubernetes.driver.pod.name" not in spec["sparkConf"]
    assert spec["driver"]["labels"]["dataops.dev/run-id"] == "s1a2b3c4d"
