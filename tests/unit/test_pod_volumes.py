"""Claims and CPU requests reach every pod of a run: the driver pod, the executors (through Spark's
volume properties), the SparkApplication and the validation pod."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.dataqualitysuite import ActiveValidation, DataQualitySuiteSpec
from dataops.api.validation import validate_document
from dataops.plan.children import Owner
from dataops.plan.spark_conf import executor_pod_template, shared_spark_files
from dataops.plan.spark_driver import Launch, build_native_run, build_spark_application, driver_properties
from dataops.plan.validation import build_validator_pod

NOW = datetime(2026, 11, 26, tzinfo=UTC)
OWNER = Owner(kind="DataPipeline", name="orders", namespace="sales", uid="uid-1")
LAUNCH = Launch(owner=OWNER, run_id="r1", attempt=1, image="img:1")
VOLUMES = [
    {"name": "lake", "claimName": "lake-claim", "mountPath": "/lake"},
    {"name": "ref", "claimName": "reference", "mountPath": "/ref", "readOnly": True},
]


def _spec(example_pipeline: dict[str, Any], **spark: Any) -> DataPipelineSpec:
    example_pipeline["spec"]["spark"] = spark
    return DataPipelineSpec.model_validate(example_pipeline["spec"])


def _props(pod: dict[str, Any], spec: DataPipelineSpec) -> dict[str, str]:
    return driver_properties(pod, shared_spark_files(spec.spark))


def test_claims_are_mounted_in_driver_and_executors(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, volumes=VOLUMES)
    (pod,) = build_native_run(LAUNCH, spec)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["lake"] == {"name": "lake", "persistentVolumeClaim": {"claimName": "lake-claim"}}
    assert volumes["ref"] == {"name": "ref", "persistentVolumeClaim": {"claimName": "reference"}}
    mounts = {m["name"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert mounts["lake"] == {"name": "lake", "mountPath": "/lake", "readOnly": False}
    assert mounts["ref"]["readOnly"] is True
    props = _props(pod, spec)
    prefix = "spark.kubernetes.executor.volumes.persistentVolumeClaim"
    assert props[f"{prefix}.lake.mount.path"] == "/lake"
    assert props[f"{prefix}.lake.options.claimName"] == "lake-claim"
    assert props[f"{prefix}.lake.mount.readOnly"] == "false"
    assert props[f"{prefix}.ref.mount.readOnly"] == "true"
    # The executor template keeps only /tmp: Spark adds the claims from the properties.
    template = executor_pod_template(spec.spark)
    assert [v["name"] for v in template["spec"]["volumes"]] == ["tmp"]


def test_no_claims_no_volume_properties(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline)
    (pod,) = build_native_run(LAUNCH, spec)
    assert not [k for k in _props(pod, spec) if ".volumes." in k]
    assert {v["name"] for v in pod["spec"]["volumes"]} == {"dataops-plan", "tmp"}


def test_cpu_requests_default_to_cores_and_can_be_smaller(example_pipeline: dict[str, Any]) -> None:
    spec = _spec(example_pipeline, driver={"cores": 2})
    (pod,) = build_native_run(LAUNCH, spec)
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "2"
    assert _props(pod, spec)["spark.kubernetes.driver.request.cores"] == "2"
    assert _props(pod, spec)["spark.kubernetes.executor.request.cores"] == "1"
    spec = _spec(
        example_pipeline, driver={"cores": 1, "requestCores": "200m"}, executor={"requestCores": "0.5"}
    )
    (pod,) = build_native_run(LAUNCH, spec)
    assert pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "200m"
    props = _props(pod, spec)
    assert props["spark.driver.cores"] == "1"  # task slots are unchanged
    assert props["spark.kubernetes.driver.request.cores"] == "200m"
    assert props["spark.kubernetes.executor.request.cores"] == "0.5"


def test_spark_application_lists_the_claims_once(example_pipeline: dict[str, Any]) -> None:
    app = build_spark_application(LAUNCH, _spec(example_pipeline, volumes=VOLUMES))["spec"]
    assert {"name": "lake", "persistentVolumeClaim": {"claimName": "lake-claim"}} in app["volumes"]
    for role in ("driver", "executor"):
        assert {"name": "lake", "mountPath": "/lake", "readOnly": False} in app[role]["volumeMounts"]
    assert not [k for k in app["sparkConf"] if ".volumes." in k]


def test_validation_pod_mounts_claims_and_requests_cpu(example_suite: dict[str, Any]) -> None:
    example_suite["spec"]["dataset"] = {"path": "/lake/orders", "format": "parquet"}
    example_suite["spec"]["validator"] = {"volumes": VOLUMES[:1], "resources": {"requestCores": "250m"}}
    spec = DataQualitySuiteSpec.model_validate(example_suite["spec"])
    owner = Owner(kind="DataQualitySuite", name="orders-quality", namespace="sales", uid="uid-2")
    pod = build_validator_pod(
        owner,
        ActiveValidation(run_id="v1", pod="orders-quality-v1", trigger="RunNow", start_time=NOW),
        spec,
        image="v:1",
        lineage_transport="none",
    )
    assert {"name": "lake", "persistentVolumeClaim": {"claimName": "lake-claim"}} in pod["spec"]["volumes"]
    container = pod["spec"]["containers"][0]
    assert {"name": "lake", "mountPath": "/lake", "readOnly": False} in container["volumeMounts"]
    assert container["resources"]["requests"]["cpu"] == "250m"


@pytest.mark.parametrize(
    ("volume", "field"),
    [
        ({"name": "lake", "claimName": "c", "mountPath": "relative"}, "mountPath"),
        ({"name": "Bad_Name", "claimName": "c", "mountPath": "/x"}, "name"),
        ({"name": "lake", "mountPath": "/x"}, "claimName"),
    ],
)
def test_bad_volumes_are_refused_naming_the_field(
    example_pipeline: dict[str, Any], volume: dict[str, Any], field: str
) -> None:
    example_pipeline["spec"]["spark"] = {"volumes": [volume]}
    errors = validate_document(example_pipeline)
    assert any(f"spec.spark.volumes[0].{field}" in str(e) for e in errors), errors


def test_duplicate_volume_names_are_refused(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["spark"] = {"volumes": [VOLUMES[0], {**VOLUMES[1], "name": "lake"}]}
    assert validate_document(example_pipeline)


def test_executor_labels_leave_out_what_spark_reserves(example_pipeline: dict[str, Any]) -> None:
    """Spark 4 refuses to start executors whose custom labels include spark-role or spark-app-selector
    (seen on the real node: "Custom executor labels cannot contain spark-role")."""
    spec = _spec(example_pipeline, podLabels={"spark-role": "x", "team": "a"})
    (pod,) = build_native_run(LAUNCH, spec)
    labels = {
        k.removeprefix("spark.kubernetes.executor.label."): v
        for k, v in _props(pod, spec).items()
        if ".label." in k
    }
    assert not set(labels) & {
        "spark-role",
        "spark-app-selector",
        "spark-exec-id",
        "spark-exec-resourceprofile-id",
    }
    assert labels["team"] == "a" and labels["dataops.dev/run-id"] == "r1"
    assert pod["metadata"]["labels"]["spark-role"] == "driver"
