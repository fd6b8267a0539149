"""The driver pod and its Spark properties have the shape spark-submit's cluster mode creates (without
its headless Service: executors reach the driver by pod IP; without a ConfigMap per attempt: the
properties are ``--conf`` arguments and the executor pod template is in the pipeline's plan ConfigMap)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, PodResources
from dataops.plan.children import Owner, build_plan_config_map
from dataops.plan.pods import api_server_address, api_server_env
from dataops.plan.runplan import build_run_plan
from dataops.plan.spark_conf import read_properties, shared_spark_files
from dataops.plan.spark_driver import (
    Launch,
    build_native_run,
    build_spark_application,
    driver_properties,
    memory_mib,
    pod_memory_mib,
)

OWNER = Owner(kind="DataPipeline", name="orders-daily", namespace="sales", uid="uid-1")
LAUNCH = Launch(owner=OWNER, run_id="s1a2b3c4d", attempt=2, image="img:1")
API_SERVER = "https://10.245.0.1:6443"


def _props(pod: dict[str, Any], spec: DataPipelineSpec) -> dict[str, str]:
    return driver_properties(pod, shared_spark_files(spec.spark))


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
    spec = _spec(example_pipeline)
    (pod,) = build_native_run(LAUNCH, spec)
    base = "orders-daily-s1a2b3c4d-2"
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == f"{base}-driver"
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    labels = pod["metadata"]["labels"]
    assert labels["dataops.dev/run-id"] == "s1a2b3c4d" and labels["dataops.dev/attempt"] == "2"
    assert labels["spark-app-selector"] == f"spark-{base}"

    assert pod["metadata"]["labels"]["spark-role"] == "driver"
    assert pod["metadata"]["annotations"] == {"team": "sales"}
    props = _props(pod, spec)
    spec_ = pod["spec"]
    assert spec_["restartPolicy"] == "Never" and spec_["serviceAccountName"] == "orders-daily-runner"
    assert spec_["securityContext"]["runAsNonRoot"] is True
    assert spec_["nodeSelector"] == {"pool": "spark"} and spec_["tolerations"][0]["key"] == "dedicated"
    (container,) = spec_["containers"]
    args = container["args"]
    assert args[:3] == ["driver", "--properties-file", "/etc/dataops/plan/spark.properties"]
    assert args[-3:] == [
        "--class",
        "org.apache.spark.deploy.PythonRunner",
        "local:///opt/dataops/spark_job.py",
    ]
    confs = args[3:-3]
    assert confs[::2] == ["--conf"] * (len(confs) // 2)
    # The spec's own text travels in the plan ConfigMap's file, the operator's values as arguments.
    from_file = read_properties(shared_spark_files(spec.spark)["spark.properties"])
    assert from_file == {
        "spark.kubernetes.executor.annotation.team": "sales",
        "spark.kubernetes.node.selector.pool": "spark",
        "spark.sql.shuffle.partitions": "64",
    }
    assert not {c.split("=", 1)[0] for c in confs[1::2]} & set(from_file)
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
    assert mounts == {"/etc/dataops/plan": "dataops-plan", "/tmp": "tmp"}
    volumes = {v["name"]: v.get("configMap", {}).get("name") or v["emptyDir"] for v in spec_["volumes"]}
    assert volumes == {"dataops-plan": "orders-daily-plan", "tmp": {}}
    assert env["HOME"]["value"] == "/tmp" and env["SPARK_LOCAL_DIRS"]["value"] == "/tmp/spark-local"
    # Without an API server URL the pods use the kubernetes Service the kubelet announces.
    assert "KUBERNETES_SERVICE_HOST" not in env and "KUBERNETES_SERVICE_PORT" not in env

    assert props["spark.kubernetes.driver.pod.name"] == f"{base}-driver"
    assert props["spark.app.id"] == f"spark-{base}"
    assert props["spark.kubernetes.executor.podNamePrefix"] == base
    assert props["spark.kubernetes.executor.label.dataops.dev/run-id"] == "s1a2b3c4d"
    assert props["spark.kubernetes.executor.label.dataops.dev/attempt"] == "2"
    # No driver Service: the image's entrypoint passes spark.driver.host=<pod IP>.
    assert "spark.driver.host" not in props
    assert props["spark.kubernetes.driver.service.deleteOnTermination"] == "false"
    assert props["spark.master"] == "k8s://https://kubernetes.default.svc:443"
    assert props["spark.kubernetes.driver.master"] == "https://kubernetes.default.svc:443"
    # A read-only root filesystem: everything Spark writes goes under the /tmp emptyDir.
    assert props["spark.local.dir"] == "/tmp/spark-local"
    assert props["spark.sql.warehouse.dir"] == "/tmp/spark-warehouse"
    assert props["spark.jars.ivy"] == "/tmp/.ivy2"
    assert container["workingDir"] == "/tmp"
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
    # The executor pod template is a file of the pipeline's plan ConfigMap, mounted beside plan.json.
    plan = build_run_plan(name="orders-daily", namespace="sales", spec=spec)
    plan_map = build_plan_config_map(owner=OWNER, plan=plan, spark=spec.spark)
    assert (
        props["spark.kubernetes.executor.podTemplateFile"] == "/etc/dataops/plan/executor-pod-template.yaml"
    )
    template = yaml.safe_load(plan_map["data"]["executor-pod-template.yaml"])
    assert template["spec"]["tolerations"][0]["value"] == "spark"
    assert props["spark.kubernetes.executor.podTemplateContainerName"] == "spark-kubernetes-executor"
    (executor,) = template["spec"]["containers"]
    assert executor["name"] == "spark-kubernetes-executor" and executor["workingDir"] == "/tmp"
    assert executor["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert template["spec"]["volumes"] == [{"name": "tmp", "emptyDir": {}}]
    assert {e["name"]: e["value"] for e in executor["env"]}["HOME"] == "/tmp"


def test_api_server_url_reaches_spark_and_the_pods_clients(example_pipeline: dict[str, Any]) -> None:
    launch = Launch(owner=OWNER, run_id="s1a2b3c4d", attempt=1, image="img:1", api_server_url=API_SERVER)
    spec = _spec(example_pipeline)
    (pod,) = build_native_run(launch, spec)
    props = _props(pod, spec)
    assert props["spark.master"] == f"k8s://{API_SERVER}"
    assert props["spark.kubernetes.driver.master"] == API_SERVER
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == ("10.245.0.1", "6443")

    app = build_spark_application(launch, spec)
    assert app["spec"]["sparkConf"]["spark.kubernetes.driver.master"] == API_SERVER
    app_env = {e["name"]: e.get("value") for e in app["spec"]["driver"]["env"]}
    assert app_env["KUBERNETES_SERVICE_HOST"] == "10.245.0.1"


def test_api_server_address_parsing() -> None:
    assert api_server_address("https://10.245.0.1:6443") == ("10.245.0.1", 6443)
    assert api_server_address("https://api.example.com") == ("api.example.com", 443)
    assert api_server_address("https://[fd00::1]:6443") == ("fd00::1", 6443)
    for bad in ("10.245.0.1:6443", "https://", "ftp://x", "https://x:notaport"):
        with pytest.raises(ValueError):
            api_server_address(bad)
    assert api_server_env(None) == []


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
    assert "spark.kubernetes.driver.service.deleteOnTermination" not in spec["sparkConf"]
    assert spec["driver"]["labels"]["dataops.dev/run-id"] == "s1a2b3c4d"
    for role in ("driver", "executor"):
        assert spec[role]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec[role]["securityContext"]["readOnlyRootFilesystem"] is True
        assert {"name": "tmp", "mountPath": "/tmp"} in spec[role]["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]


def test_delta_rebuilds_table_state_in_one_wave_of_the_jobs_task_slots(
    example_pipeline: dict[str, Any],
) -> None:
    """Delta's 50 state-reconstruction partitions become the job's task slots: executors x cores,
    the maximum under dynamic allocation; a spec's own value wins."""
    key = "spark.databricks.delta.snapshotPartitions"
    spec = _spec(example_pipeline)  # dynamic allocation up to 8 executors of 2 cores
    assert _props(build_native_run(LAUNCH, spec)[0], spec)[key] == "16"
    fixed = spec.model_copy(deep=True)
    fixed.spark.dynamic_allocation.enabled = False  # 3 executors of 2 cores
    assert _props(build_native_run(LAUNCH, fixed)[0], fixed)[key] == "6"
    fixed.spark.executor.instances = 0
    assert _props(build_native_run(LAUNCH, fixed)[0], fixed)[key] == "2"
    fixed.spark.spark_conf[key] = "200"
    assert _props(build_native_run(LAUNCH, fixed)[0], fixed)[key] == "200"
