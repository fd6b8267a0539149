"""Launching, observing and stopping run attempts on the cluster (both backends)."""

from __future__ import annotations

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, SparkBackend
from dataops.kube.client import CONFIG_MAP, POD, SPARK_APPLICATION, KubeClient, KubeError
from dataops.plan.children import PIPELINE_LABEL
from dataops.plan.scheduling import DriverState, driver_state_from_pod, driver_state_from_spark_application
from dataops.plan.spark_conf import SPARK_ROLE_LABEL
from dataops.plan.spark_driver import Launch, build_native_run, build_spark_application


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


class LaunchRefused(Exception):
    """The API server refused one of an attempt's objects (see :attr:`KubeError.refused`)."""

    def __init__(self, what: str, error: KubeError) -> None:
        self.error = error
        super().__init__(f"{what} rejected: {error.message or error}")


def _what(obj: dict[str, object]) -> str:
    kind = str(obj["kind"])
    return {"Pod": "driver pod"}.get(kind, kind)


def launch(client: KubeClient, launch: Launch, spec: DataPipelineSpec) -> int:
    """Create the attempt's objects. Each attempt is launched once, so they are applied without a
    read first; server-side apply under deterministic names keeps a repeated launch harmless.

    Raises :class:`LaunchRefused` when the API server refuses an object (the attempt cannot start as
    it is); other errors propagate unchanged (the reconcile is retried)."""
    if spec.spark.backend == SparkBackend.SPARK_OPERATOR:
        objects = [build_spark_application(launch, spec)]
    else:
        objects = build_native_run(launch, spec)
    for obj in objects:
        try:
            client.apply(obj)
        except KubeError as exc:
            if exc.refused:
                raise LaunchRefused(_what(obj), exc) from exc
            raise
    return len(objects)


def stop(client: KubeClient, namespace: str, name: str, backend: SparkBackend) -> None:
    if backend == SparkBackend.SPARK_OPERATOR:
        app = name.removesuffix("-driver")
        client.delete(SPARK_APPLICATION, namespace, app)
    else:
        client.delete(POD, namespace, name)


def retire(client: KubeClient, namespace: str, driver: DriverState, backend: SparkBackend) -> None:
    """Delete a finished attempt: its driver (executors go with it by owner reference) and, for an
    attempt an older operator launched, the ConfigMap it was launched with."""
    stop(client, namespace, driver.name, backend)
    if driver.conf_map is not None:
        client.delete(CONFIG_MAP, namespace, driver.conf_map)
