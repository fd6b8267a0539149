"""Desired in-cluster children of a DataPipeline, as plain manifests. Pure.

Every child has a deterministic name, a controller ownerReference (so garbage collection
removes it with the pipeline) and the standard labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataops.api.v1alpha1 import API_VERSION
from dataops.api.v1alpha1.datapipeline import SparkSpec
from dataops.plan.runplan import RunPlan
from dataops.plan.spark_conf import shared_spark_files

MANAGED_BY = "dataops-operator"
PIPELINE_LABEL = "dataops.dev/pipeline"
RUN_ID_LABEL = "dataops.dev/run-id"
COMPONENT_LABEL = "app.kubernetes.io/component"
PLAN_HASH_ANNOTATION = "dataops.dev/plan-hash"

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Owner:
    """The object that controls a child."""

    kind: str
    name: str
    namespace: str
    uid: str
    api_version: str = API_VERSION

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def plan_config_map_name(pipeline: str) -> str:
    return f"{pipeline}-plan"


def runner_name(pipeline: str) -> str:
    return f"{pipeline}-runner"


def standard_labels(pipeline: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dataops-pipeline",
        "app.kubernetes.io/instance": pipeline,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        COMPONENT_LABEL: component,
        PIPELINE_LABEL: pipeline,
    }


def _metadata(owner: Owner, name: str, component: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": standard_labels(owner.name, component),
        "ownerReferences": [owner.reference()],
    }


def build_plan_config_map(*, owner: Owner, plan: RunPlan, spark: SparkSpec) -> Manifest:
    """The plan every run of the pipeline reads, and the Spark files every run's driver shares (see
    :mod:`dataops.plan.spark_conf`): no attempt needs a ConfigMap of its own."""
    meta = _metadata(owner, plan_config_map_name(owner.name), "run-plan")
    meta["annotations"] = {PLAN_HASH_ANNOTATION: plan.digest()}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"plan.json": plan.canonical_json(), **shared_spark_files(spark)},
    }


def build_service_account(*, owner: Owner) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(owner, runner_name(owner.name), "runner"),
        "automountServiceAccountToken": True,
    }


# What a Spark 4.0 driver does with the API server, and nothing more (KubernetesClusterSchedulerBackend,
# ExecutorPodsAllocator, the watch and polling snapshot sources, ExecutorPodsLifecycleManager):
RUNNER_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "resources": ["pods"],
        # get: its own pod (the executors' owner); create/delete: executors, one by one and by label
        # (deletecollection); list/watch: executor snapshots; patch: the executor-id label, the
        # deletion-cost annotation, and a streaming driver's progress annotation on its own pod.
        "verbs": ["create", "get", "list", "watch", "patch", "delete", "deletecollection"],
    },
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        # The executors' spark-exec-<id>-conf-map, created at start and deleted by label at the end.
        "verbs": ["create", "get", "list", "delete", "deletecollection"],
    },
    {
        "apiGroups": [""],
        "resources": ["persistentvolumeclaims"],
        # On-demand executor volumes (sparkConf): created per executor; the driver owns, lists for
        # reuse and deletes them by label (ownPersistentVolumeClaim/reusePersistentVolumeClaim).
        "verbs": ["create", "get", "list", "delete", "deletecollection"],
    },
]
# No services: there is no driver Service (executors use the driver's pod IP) and
# spark.kubernetes.driver.service.deleteOnTermination is off.


def build_role(*, owner: Owner) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _metadata(owner, runner_name(owner.name), "runner"),
        "rules": RUNNER_RULES,
    }


def build_role_binding(*, owner: Owner) -> Manifest:
    name = runner_name(owner.name)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _metadata(owner, name, "runner"),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": owner.namespace}],
    }


def desired_children(*, owner: Owner, plan: RunPlan, spark: SparkSpec) -> list[Manifest]:
    """All children, in the order they are applied (identity before permissions before data)."""
    return [
        build_service_account(owner=owner),
        build_role(owner=owner),
        build_role_binding(owner=owner),
        build_plan_config_map(owner=owner, plan=plan, spark=spark),
    ]
