"""Label selectors and static policy checks."""

from __future__ import annotations

from typing import Any

import pytest

from dataops.api.v1alpha1.common import LabelSelector
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.policy.evaluate import pipeline_violations
from dataops.policy.selectors import selector_matches


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {}, True),
        ({"matchLabels": {"team": "sales"}}, {"team": "sales", "x": "y"}, True),
        ({"matchLabels": {"team": "sales"}}, {"team": "ops"}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "silver"]}]},
            {"tier": "gold"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}, {}, True),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]},
            {"tier": "gold"},
            False,
        ),
        ({"matchExpressions": [{"key": "pii", "operator": "Exists"}]}, {"pii": ""}, True),
        ({"matchExpressions": [{"key": "pii", "operator": "DoesNotExist"}]}, {"pii": "1"}, False),
    ],
)
def test_selector_semantics(selector: dict[str, Any], labels: dict[str, str], expected: bool) -> None:
    assert selector_matches(LabelSelector.model_validate(selector), labels) is expected


def test_example_pipeline_complies_with_example_policy(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    policy = DataPolicySpec.model_validate(example_policy["spec"])
    assert pipeline_violations(policy, DataPipelineSpec.model_validate(example_pipeline["spec"])) == []


def test_violations(example_pipeline: dict[str, Any], example_policy: dict[str, Any]) -> None:
    example_policy["spec"]["requiredQualityGates"] = {"minGates": 2}
    example_pipeline["spec"]["sinks"][0]["path"] = "/tmp/elsewhere/x"
    del example_pipeline["spec"]["sinks"][0]["retentionDays"]
    del example_pipeline["spec"]["sinks"][0]["retentionColumn"]
    policy = DataPolicySpec.model_validate(example_policy["spec"])
    violations = pipeline_violations(policy, DataPipelineSpec.model_validate(example_pipeline["spec"]))
    assert violations == [
        "sink 'revenue' writes to '/tmp/elsewhere/x', which no allowedSinks pattern matches",
        "sink 'revenue' sets no retentionDays; policy requires at most 730",
        "pipeline has 1 blocking quality gate(s); policy requires at least 2",
    ]


def test_warn_gates_do_not_count_as_blocking(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    example_pipeline["spec"]["qualityGates"][0]["action"] = "warn"
    policy = DataPolicySpec.model_validate(example_policy["spec"])
    violations = pipeline_violations(policy, DataPipelineSpec.model_validate(example_pipeline["spec"]))
    assert violations == ["pipeline has 0 blocking quality gate(s); policy requires at least 1"]
