"""What spark-submit's cluster mode would create, built directly (no JVM in the operator). Pure.

For each run attempt one object: a driver pod shaped like Spark's BasicDriverFeatureStep and
DriverCommandFeatureStep produce it. The Spark properties taken from the spec and the executor pod
template are files of the pipeline's plan ConfigMap (:mod:`dataops.plan.spark_conf`); the properties
the operator generates for the attempt are ``--conf`` arguments (:func:`driver_args`): unlike
spark-submit, no ConfigMap per attempt.
There is no headless driver Service either: executors reach the driver at its pod IP
(the runtime image's entrypoint sets ``spark.driver.host`` to ``SPARK_DRIVER_BIND_ADDRESS``), which
needs neither cluster DNS nor kube-proxy. Alternatively a Kubeflow ``SparkApplication`` for
clusters that run the Spark Operator.

Every pod meets the ``restricted`` Pod Security Standard (see :mod:`dataops.plan.pods`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dataops.api.v1alpha1.common import SecretKeySelector
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, JdbcCredentials, PodResources, SparkSpec
from dataops.plan.children import PIPELINE_LABEL, RUN_ID_LABEL, Owner, plan_config_map_name, runner_name
from dataops.plan.children import standard_labels as _labels
from dataops.plan.job_conf import JOB_CONF, delta_snapshot_conf
from dataops.plan.pods import (
    IN_CLUSTER_API_SERVER,
    IVY_DIR,
    SPARK_LOCAL_DIR,
    SPARK_WAREHOUSE_DIR,
    WORKING_DIR,
    api_server_env,
    claim_mounts,
    claim_volumes,
    container_security_context,
    cpu_request,
    executor_volume_properties,
    pod_security_context,
    tmp_mount,
    tmp_volume,
    writable_dirs_env,
)
from dataops.plan.secrets import secret_env_name
from dataops.plan.spark_conf import (
    EXECUTOR_CONTAINER,
    EXECUTOR_TEMPLATE_FILE,
    PROPERTIES_FILE,
    SPARK_APP_LABEL,
    SPARK_RESERVED_LABELS,
    SPARK_ROLE_LABEL,
    read_properties,
    spec_properties,
)

ATTEMPT_LABEL = "dataops.dev/attempt"
DRIVER_CONTAINER = "spark-kubernetes-driver"
DRIVER_PORT = 7078
BLOCK_MANAGER_PORT = 7079
UI_PORT = 4040
PLAN_DIR = "/etc/dataops/plan"
APP_FILE = "local:///opt/dataops/spark_job.py"
DEFAULT_RUNTIME_IMAGE = "ghcr.io/dataops-operator/spark-runtime:0.1.0"
MIN_OVERHEAD_MIB = 384


@dataclass(frozen=True)
class Launch:
    """One attempt of one run."""

    owner: Owner
    run_id: str
    attempt: int
    image: str
    lineage_transport: str = "console"
    kafka_bootstrap: str | None = None
    api_server_url: str | None = None
    """How pods reach the API server; None: the in-cluster default (kubernetes.default.svc)."""
    masking_keys: tuple[SecretKeySelector, ...] = ()
    """The Secret keys the plan's DataPolicy masking needs (hash, tokenize)."""

    @property
    def base_name(self) -> str:
        return f"{self.owner.name}-{self.run_id}-{self.attempt}"

    @property
    def driver_pod_name(self) -> str:
        return f"{self.base_name}-driver"

    @property
    def app_id(self) -> str:
        return f"spark-{self.base_name}"


def memory_mib(spark_memory: str) -> int:
    """Spark memory notation (512m, 4g, 1024k, 2t, or bytes) -> MiB."""
    match = re.fullmatch(r"(\d+)([kmgtKMGT]?)", spark_memory)
    if not match:
        raise ValueError(f"not a Spark memory size: {spark_memory!r}")
    value, unit = int(match.group(1)), match.group(2).lower()
    factor = {"": 1 / (1024 * 1024), "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return max(1, int(value * factor))


def pod_memory_mib(resources: PodResources) -> int:
    """Heap plus Spark's default overhead (10%, at least 384 MiB; 40% would be for non-JVM jobs)."""
    heap = memory_mib(resources.memory)
    return heap + max(MIN_OVERHEAD_MIB, heap // 10)


def run_labels(launch: Launch, role: str) -> dict[str, str]:
    return {
        **_labels(launch.owner.name, f"spark-{role}"),
        RUN_ID_LABEL: launch.run_id,
        ATTEMPT_LABEL: str(launch.attempt),
        SPARK_ROLE_LABEL: role,
        SPARK_APP_LABEL: launch.app_id,
    }


def _metadata(
    launch: Launch, name: str, role: str, extra_labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": launch.owner.namespace,
        "labels": {**(extra_labels or {}), **run_labels(launch, role)},
        "ownerReferences": [launch.owner.reference()],
    }


def secret_env(spec: DataPipelineSpec) -> list[dict[str, Any]]:
    """Environment variables that carry the secrets the sources and sinks reference."""
    credentials: list[JdbcCredentials] = [
        s.jdbc.credentials for s in spec.sources if s.jdbc and s.jdbc.credentials
    ]
    credentials += [k.jdbc.credentials for k in spec.sinks if k.jdbc and k.jdbc.credentials]
    refs = [r for c in credentials for r in (c.user_secret_ref, c.password_secret_ref) if r is not None]
    env: dict[str, dict[str, Any]] = {}
    for ref in refs:
        env[secret_env_name(ref)] = {
            "name": secret_env_name(ref),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
    return [env[k] for k in sorted(env)]


def masking_key_env(launch: Launch) -> list[dict[str, Any]]:
    """The masking keys, as environment variables of the driver (the runtime reads them by name)."""
    return [
        {
            "name": secret_env_name(ref),
            "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}},
        }
        for ref in launch.masking_keys
    ]


def operator_properties(launch: Launch, spec: SparkSpec) -> dict[str, str]:
    """The Spark properties the operator generates for one attempt (ASCII by construction)."""
    ns = launch.owner.namespace
    api_server = launch.api_server_url or IN_CLUSTER_API_SERVER
    props = {
        "spark.app.id": launch.app_id,
        "spark.app.name": launch.owner.name,
        "spark.master": f"k8s://{api_server}",
        "spark.kubernetes.driver.master": api_server,
        "spark.submit.deployMode": "cluster",
        "spark.kubernetes.namespace": ns,
        "spark.kubernetes.submitInDriver": "true",
        "spark.kubernetes.resource.type": "python",
        "spark.kubernetes.driver.pod.name": launch.driver_pod_name,
        "spark.kubernetes.executor.podNamePrefix": launch.base_name,
        "spark.kubernetes.container.image": spec.image or launch.image,
        "spark.kubernetes.container.image.pullPolicy": spec.image_pull_policy,
        "spark.kubernetes.authenticate.driver.serviceAccountName": runner_name(launch.owner.name),
        "spark.kubernetes.executor.podTemplateFile": f"{PLAN_DIR}/{EXECUTOR_TEMPLATE_FILE}",
        "spark.kubernetes.executor.podTemplateContainerName": EXECUTOR_CONTAINER,
        # No driver Service: executors connect to the driver's pod IP, which the image's entrypoint
        # passes as spark.driver.host. Nothing to delete when the application ends either.
        "spark.kubernetes.driver.service.deleteOnTermination": "false",
        "spark.local.dir": SPARK_LOCAL_DIR,
        "spark.sql.warehouse.dir": SPARK_WAREHOUSE_DIR,
        "spark.jars.ivy": IVY_DIR,
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.driver.cores": str(spec.driver.cores),
        "spark.driver.memory": spec.driver.memory,
        "spark.executor.cores": str(spec.executor.cores),
        "spark.executor.memory": spec.executor.memory,
        "spark.executor.instances": str(spec.executor.instances),
        "spark.kubernetes.driver.request.cores": cpu_request(spec.driver),
        "spark.kubernetes.executor.request.cores": cpu_request(spec.executor),
        **JOB_CONF,
        **delta_snapshot_conf(task_slots(spec)),
    }
    for key, value in run_labels(launch, "executor").items():
        if key not in SPARK_RESERVED_LABELS:  # Spark sets these itself and refuses custom ones
            props[f"spark.kubernetes.executor.label.{key}"] = value
    if spec.dynamic_allocation.enabled:
        props |= {
            "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.shuffleTracking.enabled": "true",
            "spark.dynamicAllocation.minExecutors": str(spec.dynamic_allocation.min_executors),
            "spark.dynamicAllocation.maxExecutors": str(spec.dynamic_allocation.max_executors),
        }
    return props


def task_slots(spec: SparkSpec) -> int:
    """How many tasks the job's executors run at once (with dynamic allocation, at most)."""
    executors = (
        spec.dynamic_allocation.max_executors if spec.dynamic_allocation.enabled else spec.executor.instances
    )
    return max(1, executors) * spec.executor.cores


def spark_properties(launch: Launch, spec: SparkSpec) -> dict[str, str]:
    """All of an attempt's Spark properties; the spec's own (labels, ``sparkConf``...) win."""
    return {**operator_properties(launch, spec), **spec_properties(spec)}


ENTRYPOINT_PROPERTIES = frozenset(
    {"spark.driver.bindAddress", "spark.driver.host", "spark.executorEnv.SPARK_DRIVER_POD_IP"}
)
"""What the image's entrypoint passes itself (the pod IP): a later ``--conf`` would override it."""


def driver_args(launch: Launch, spec: SparkSpec) -> list[str]:
    """The driver container's arguments: the image's ``driver`` role, the plan ConfigMap's
    ``spark.properties`` (the spec's own properties), the operator's as ``--conf key=value`` (in key
    order; none the spec sets, which wins as in :func:`spark_properties`) and the application."""
    from_spec = spec_properties(spec)
    props = operator_properties(launch, spec)
    keys = sorted(k for k in props if k not in from_spec and k not in ENTRYPOINT_PROPERTIES)
    confs = [arg for key in keys for arg in ("--conf", f"{key}={props[key]}")]
    return [
        "driver",
        "--properties-file",
        f"{PLAN_DIR}/{PROPERTIES_FILE}",
        *confs,
        "--class",
        "org.apache.spark.deploy.PythonRunner",
        APP_FILE,
    ]


def driver_properties(pod: dict[str, Any], plan_files: dict[str, str]) -> dict[str, str]:
    """The Spark properties spark-submit sees in a driver pod (the inverse of :func:`driver_args`):
    its properties file, read from the plan ConfigMap's ``plan_files``, then its ``--conf`` arguments
    split at the first ``=`` (SparkSubmitUtils.parseSparkConfProperty), which win."""
    args = pod["spec"]["containers"][0].get("args") or []
    props: dict[str, str] = {}
    for i, arg in enumerate(args[:-1]):
        if arg == "--properties-file":
            props |= read_properties(plan_files[args[i + 1].removeprefix(f"{PLAN_DIR}/")])
    pairs = [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--conf"]
    return props | dict(pair.split("=", 1) for pair in pairs)


def build_driver_pod(launch: Launch, spec: DataPipelineSpec) -> dict[str, Any]:
    spark = spec.spark
    memory = f"{pod_memory_mib(spark.driver)}Mi"
    meta = _metadata(launch, launch.driver_pod_name, "driver", spark.pod_labels)
    if spark.pod_annotations:
        meta["annotations"] = dict(spark.pod_annotations)
    env = [
        {"name": "SPARK_DRIVER_BIND_ADDRESS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "SPARK_APPLICATION_ID", "value": launch.app_id},
        {"name": "PYSPARK_PYTHON", "value": "python3"},
        {"name": "DATAOPS_PLAN_PATH", "value": f"{PLAN_DIR}/plan.json"},
        {"name": "DATAOPS_RUN_ID", "value": launch.run_id},
        {"name": "DATAOPS_ATTEMPT", "value": str(launch.attempt)},
        {"name": "DATAOPS_LINEAGE_TRANSPORT", "value": launch.lineage_transport},
        {"name": "DATAOPS_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "DATAOPS_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        *(
            [{"name": "DATAOPS_KAFKA_BOOTSTRAP", "value": launch.kafka_bootstrap}]
            if launch.kafka_bootstrap
            else []
        ),
        *writable_dirs_env(),
        *api_server_env(launch.api_server_url),
        *secret_env(spec),
        *masking_key_env(launch),
    ]
    container: dict[str, Any] = {
        "name": DRIVER_CONTAINER,
        "workingDir": WORKING_DIR,
        "image": spark.image or launch.image,
        "imagePullPolicy": spark.image_pull_policy,
        "args": driver_args(launch, spark),
        "env": env,
        "ports": [
            {"name": "driver-rpc-port", "containerPort": DRIVER_PORT, "protocol": "TCP"},
            {"name": "blockmanager", "containerPort": BLOCK_MANAGER_PORT, "protocol": "TCP"},
            {"name": "spark-ui", "containerPort": UI_PORT, "protocol": "TCP"},
        ],
        "resources": {
            "requests": {"cpu": cpu_request(spark.driver), "memory": memory},
            "limits": {"memory": memory},
        },
        "volumeMounts": [
            {"name": "dataops-plan", "mountPath": PLAN_DIR, "readOnly": True},
            tmp_mount(),
            *claim_mounts(spark.volumes),
        ],
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": runner_name(launch.owner.name),
        "securityContext": pod_security_context(),
        "containers": [container],
        "volumes": [
            {"name": "dataops-plan", "configMap": {"name": plan_config_map_name(launch.owner.name)}},
            tmp_volume(),
            *claim_volumes(spark.volumes),
        ],
    }
    if spark.node_selector:
        pod_spec["nodeSelector"] = dict(spark.node_selector)
    if spark.tolerations:
        pod_spec["tolerations"] = [t.to_json() for t in spark.tolerations]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


def build_native_run(launch: Launch, spec: DataPipelineSpec) -> list[dict[str, Any]]:
    """The objects of one attempt: its driver pod, nothing else."""
    return [build_driver_pod(launch, spec)]


def build_spark_application(launch: Launch, spec: DataPipelineSpec) -> dict[str, Any]:
    """The same attempt as a Kubeflow Spark Operator ``SparkApplication`` (sparkoperator.k8s.io/v1beta2)."""
    spark = spec.spark
    props = spark_properties(launch, spark)
    for managed in (
        "spark.kubernetes.driver.pod.name",
        "spark.master",
        "spark.submit.deployMode",
        "spark.kubernetes.submitInDriver",
        "spark.kubernetes.resource.type",
        "spark.kubernetes.executor.podTemplateFile",
        "spark.kubernetes.executor.podTemplateContainerName",
        # The Spark Operator creates the driver Service and sets spark.driver.host to it.
        "spark.kubernetes.driver.service.deleteOnTermination",
        *executor_volume_properties(spark.volumes),  # the application lists its volumes itself
    ):
        props.pop(managed, None)
    volume_mounts = [
        {"name": "dataops-plan", "mountPath": PLAN_DIR, "readOnly": True},
        tmp_mount(),
        *claim_mounts(spark.volumes),
    ]
    env = [
        {"name": "DATAOPS_PLAN_PATH", "value": f"{PLAN_DIR}/plan.json"},
        {"name": "DATAOPS_RUN_ID", "value": launch.run_id},
        {"name": "DATAOPS_LINEAGE_TRANSPORT", "value": launch.lineage_transport},
        {"name": "DATAOPS_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "DATAOPS_POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        *(
            [{"name": "DATAOPS_KAFKA_BOOTSTRAP", "value": launch.kafka_bootstrap}]
            if launch.kafka_bootstrap
            else []
        ),
        *writable_dirs_env(),
        *api_server_env(launch.api_server_url),
        *secret_env(spec),
        *masking_key_env(launch),
    ]
    labels = {
        **spark.pod_labels,
        PIPELINE_LABEL: launch.owner.name,
        RUN_ID_LABEL: launch.run_id,
        ATTEMPT_LABEL: str(launch.attempt),
    }
    app_spec: dict[str, Any] = {
        "type": "Python",
        "pythonVersion": "3",
        "mode": "cluster",
        "image": spark.image or launch.image,
        "imagePullPolicy": spark.image_pull_policy,
        "mainApplicationFile": APP_FILE,
        "sparkVersion": "4.0.0",
        "restartPolicy": {"type": "Never"},
        "sparkConf": props,
        "volumes": [
            {"name": "dataops-plan", "configMap": {"name": plan_config_map_name(launch.owner.name)}},
            tmp_volume(),
            *claim_volumes(spark.volumes),
        ],
        "driver": {
            "cores": spark.driver.cores,
            "memory": spark.driver.memory,
            "serviceAccount": runner_name(launch.owner.name),
            "labels": labels,
            "annotations": dict(spark.pod_annotations),
            "env": env,
            "volumeMounts": volume_mounts,
            "podSecurityContext": pod_security_context(),
            "securityContext": container_security_context(),
            "nodeSelector": dict(spark.node_selector),
            "tolerations": [t.to_json() for t in spark.tolerations],
        },
        "executor": {
            "instances": spark.executor.instances,
            "cores": spark.executor.cores,
            "memory": spark.executor.memory,
            "labels": labels,
            "annotations": dict(spark.pod_annotations),
            "env": writable_dirs_env(),
            "volumeMounts": [tmp_mount(), *claim_mounts(spark.volumes)],
            "podSecurityContext": pod_security_context(),
            "securityContext": container_security_context(),
            "nodeSelector": dict(spark.node_selector),
            "tolerations": [t.to_json() for t in spark.tolerations],
        },
    }
    if spark.dynamic_allocation.enabled:
        app_spec["dynamicAllocation"] = {
            "enabled": True,
            "minExecutors": spark.dynamic_allocation.min_executors,
            "maxExecutors": spark.dynamic_allocation.max_executors,
        }
    return {
        "apiVersion": "sparkoperator.k8s.io/v1beta2",
        "kind": "SparkApplication",
        "metadata": _metadata(launch, launch.base_name, "driver"),
        "spec": app_spec,
    }
