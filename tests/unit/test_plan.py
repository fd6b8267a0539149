"""Pure planning: run plan, SQL references, children manifests."""

from __future__ import annotations

import json
from typing import Any

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.plan.children import MANAGED_BY, Owner, desired_children, plan_config_map_name, runner_name
from dataops.plan.runplan import build_run_plan, check_step_order, referenced_tables

OWNER = Owner(kind="DataPipeline", name="orders-daily", namespace="sales", uid="uid-1")


def test_referenced_tables_ignores_comments_and_strings() -> None:
    sql = """
        -- FROM commented_out
        /* JOIN also_not */
        SELECT 'from fake' AS x FROM orders o
        LEFT JOIN `customers` c ON o.id = c.id
        JOIN orders ON 1 = 1
    """
    assert referenced_tables(sql) == ["orders", "customers"]


def test_plan_records_dependencies_in_order(example_pipeline: dict[str, Any]) -> None:
    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    plan = build_run_plan(name="orders-daily", namespace="sales", spec=spec)
    assert [s.name for s in plan.steps] == ["completed_orders", "revenue_by_country"]
    assert plan.steps[0].depends_on == ["orders"]
    assert plan.steps[1].depends_on == ["completed_orders", "customers"]
    assert plan.sinks[0].from_ == "revenue_by_country"
    assert check_step_order(spec) == []


def test_plan_digest_is_stable_and_changes_with_the_spec(example_pipeline: dict[str, Any]) -> None:
    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    first = build_run_plan(name="p", namespace="n", spec=spec)
    assert first.digest() == build_run_plan(name="p", namespace="n", spec=spec).digest()
    example_pipeline["spec"]["sinks"][0]["mode"] = "append"
    changed = build_run_plan(
        name="p", namespace="n", spec=DataPipelineSpec.model_validate(example_pipeline["spec"])
    )
    assert changed.digest() != first.digest()


def test_forward_and_self_references_are_plan_errors(example_pipeline: dict[str, Any]) -> None:
    transforms = example_pipeline["spec"]["transforms"]
    transforms[0]["sql"] = "SELECT * FROM revenue_by_country"
    transforms[1]["sql"] = "SELECT * FROM revenue_by_country JOIN completed_orders ON true"
    errors = check_step_order(DataPipelineSpec.model_validate(example_pipeline["spec"]))
    assert [e.path for e in errors] == ["spec.transforms[0].sql", "spec.transforms[1].sql"]
    assert "declared after it" in errors[0].message
    assert "reads itself" in errors[1].message


def test_children_have_names_owner_and_labels(example_pipeline: dict[str, Any]) -> None:
    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    plan = build_run_plan(name="orders-daily", namespace="sales", spec=spec)
    children = desired_children(owner=OWNER, plan=plan, spark=spec.spark)
    assert [c["kind"] for c in children] == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"]
    for child in children:
        meta = child["metadata"]
        assert meta["namespace"] == "sales"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == MANAGED_BY
        assert meta["labels"]["dataops.dev/pipeline"] == "orders-daily"
        (ref,) = meta["ownerReferences"]
        assert ref == {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPipeline",
            "name": "orders-daily",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    config_map = children[3]
    assert config_map["metadata"]["name"] == plan_config_map_name("orders-daily")
    assert json.loads(config_map["data"]["plan.json"])["pipeline"] == "orders-daily"
    assert set(config_map["data"]) == {"plan.json", "spark.properties", "executor-pod-template.yaml"}
    binding = children[2]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": runner_name("orders-daily"), "namespace": "sales"}
    ]


def test_runner_role_is_least_privilege(example_pipeline: dict[str, Any]) -> None:
    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    plan = build_run_plan(name="p", namespace="n", spec=spec)
    role = desired_children(owner=OWNER, plan=plan, spark=spec.spark)[1]
    verbs = {r: set(rule["verbs"]) for rule in role["rules"] for r in rule["resources"]}
    # Exactly what a Spark 4.0 driver does: no Services (executors use the driver's pod IP).
    assert verbs == {
        "pods": {"create", "get", "list", "watch", "patch", "delete", "deletecollection"},
        "configmaps": {"create", "get", "list", "delete", "deletecollection"},
        "persistentvolumeclaims": {"create", "get", "list", "delete", "deletecollection"},
    }
    assert all("*" not in rule["verbs"] and rule["apiGroups"] == [""] for rule in role["rules"])


def test_plan_never_contains_secret_values(example_pipeline: dict[str, Any]) -> None:
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
    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    text = build_run_plan(name="p", namespace="n", spec=spec).canonical_json()
    assert '"passwordSecretRef":{"key":"password","name":"db-creds"}' in text
