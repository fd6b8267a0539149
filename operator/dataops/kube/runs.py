"""Launching, observing and stopping run attempts on the cluster (both backends)."""

from __future__ import annotations

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, SparkBackend
from dataops.kube.client import POD, SPARK_APPLICATION, KubeClient
from dataops.plan.children import PIPELINE_LABEL
from dataops.plan.scheduling import DriverState, driver_state_from_pod, driver_state_from_spark_application
from dataops.plan.spark_driver import SPARK_ROLE_LABEL, Launch, build_native_run, build_spark_application


def observe_drivers(
    client: KubeClient, namespace: str, pipeline: str, backend: SparkBackend
) -> dict[tuple[str, int], DriverState]:
    states: list[DriverState | None]
    if backend == SparkBackend.SPARK_OPERATOR:
        apps = client.list(SPARK_APPLICATION, namespace, label_selector=f"{PIPELINE_LABEL}={pipeline}")
        states = [driver_state_from_spark_application(a) for a in apps]
    else:
        pods = client.list(
            POD, namespace, label_selector=f"{PIPELINE_LABEL}={pipeline},{SPARK_ROLE_LABEL}=driver"
        )
        states = [driver_state_from_pod(p) for p in pods]
    return {(s.run_id, s.attempt): s for s in states if s is not None}


def launch(client: KubeClient, launch: Launch, spec: DataPipelineSpec) -> int:
    """Create the attempt's objects. Each attempt is launched once, so they are applied without a
    read first; server-side apply under deterministic names keeps a repeated launch harmless."""
    if spec.spark.backend == SparkBackend.SPARK_OPERATOR:
        objects = [build_spark_application(launch, spec)]
    else:
        objects = build_native_run(launch, spec)
    for obj in objects:
        client.apply(obj)
    return len(objects)


def stop(client: KubeClient, namespace: str, name: str, backend: SparkBackend) -> None:
    if backend == SparkBackend.SPARK_OPERATOR:
        app = name.removesuffix("-driver")
        client.delete(SPARK_APPLICATION, namespace, app)
    else:
        client.delete(POD, namespace, name)
