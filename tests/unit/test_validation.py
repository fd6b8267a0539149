"""Offline validation reports the field path and reason."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from croniter import croniter

from dataops.api.v1alpha1.common import CRON_PATTERN
from dataops.api.validation import admitted_model, validate_document


def _paths(doc: dict[str, Any]) -> list[str]:
    return [e.path for e in validate_document(doc)]


def test_examples_are_valid(
    example_pipeline: dict[str, Any], example_suite: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    for doc in (example_pipeline, example_suite, example_policy):
        assert validate_document(doc) == []


def test_unknown_kind_and_version(example_pipeline: dict[str, Any]) -> None:
    assert _paths({**example_pipeline, "kind": "Pipeline"}) == ["kind"]
    assert _paths({**example_pipeline, "apiVersion": "dataops.dev/v2"}) == ["apiVersion"]
    assert _paths({**example_pipeline, "metadata": {}}) == ["metadata.name"]


def test_several_errors_are_reported_together(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["retry"]["maxRetries"] = -1
    example_pipeline["spec"]["sinks"][0]["mode"] = "upsert"
    errors = {e.path: e.reason for e in validate_document(example_pipeline)}
    assert errors == {
        "spec.retry.maxRetries": "Invalid value",
        "spec.sinks[0].mode": "Unsupported value",
    }
    # Strict field validation fails at decoding: unknown fields are then the only errors reported.
    example_pipeline["spec"]["sinks"][0]["extra"] = True
    example_pipeline["spec"]["extra"] = None  # a null unknown field is dropped, not reported
    errors = {e.path: e.reason for e in validate_document(example_pipeline)}
    assert errors == {"spec.sinks[0].extra": "Unknown field"}


def test_duplicate_names(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["transforms"].append(dict(example_pipeline["spec"]["transforms"][0]))
    errors = validate_document(example_pipeline)
    assert [(e.path, e.reason) for e in errors] == [("spec.transforms[2]", "Duplicate value")]


def test_cross_field_rules(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["transforms"][0]["name"] = "orders"
    example_pipeline["spec"]["transforms"][1]["sql"] = "SELECT 1"
    example_pipeline["spec"]["qualityGates"][0]["dataset"] = "orders"
    assert _paths(example_pipeline) == ["spec.transforms"]


def test_expectation_arguments(example_suite: dict[str, Any]) -> None:
    example_suite["spec"]["expectations"] = [
        {"type": "expect_column_pair_values_to_be_equal", "columnA": "a"},
        {"type": "expect_column_values_to_be_in_set", "column": "c", "valueSet": ["x", 1]},
        {"type": "expect_table_row_count_to_be_between", "minValue": 10, "maxValue": 5},
    ]
    errors = {e.path: e.message for e in validate_document(example_suite)}
    # as at the API server: the admission policy (free-form arguments) judges only what the CRD admits
    assert set(errors) == {"spec.expectations[0].columnB"}
    assert "required" in errors["spec.expectations[0].columnB"]
    example_suite["spec"]["expectations"][0]["columnB"] = "b"
    errors = {e.path: e.message for e in validate_document(example_suite)}
    assert set(errors) == {"spec.expectations[2].minValue"}
    assert "must not exceed" in errors["spec.expectations[2].minValue"]


def test_value_sets_keep_json_scalars_as_written(example_suite: dict[str, Any]) -> None:
    example_suite["spec"]["expectations"] = [
        {"type": "expect_column_values_to_be_in_set", "column": "c", "valueSet": [True, 2.0, 2, None, "2"]},
        {"type": "expect_column_values_to_be_between", "column": "t", "minValue": {"$PARAMETER": "now()"}},
    ]
    assert validate_document(example_suite) == []
    suite = admitted_model(example_suite)
    in_set, between = suite.spec.expectations  # type: ignore[attr-defined]
    assert [type(v) for v in in_set.value_set] == [bool, float, int, type(None), str]
    assert in_set.kwargs()["value_set"] == [True, 2.0, 2, None, "2"]
    assert between.kwargs()["min_value"] == {"$PARAMETER": "now()"}


@pytest.mark.parametrize(
    "cron",
    ["* * * * *", "0 2 * * *", "*/15 0-6,22 1,15 JAN-MAR MON-FRI", "@hourly", "59 23 31 12 7", "0 0 1 */3 *"],
)
def test_cron_pattern_accepts_what_croniter_runs(cron: str) -> None:
    assert re.fullmatch(CRON_PATTERN, cron)
    assert croniter(cron, datetime(2026, 1, 1)).get_next(datetime) > datetime(2026, 1, 1)


@pytest.mark.parametrize(
    "cron",
    [
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "* * * *",
        "* * * * * *",
        "@often",
        "*/0 * * * *",
        "daily",
    ],
)
def test_cron_pattern_rejects_invalid(cron: str) -> None:
    assert not re.fullmatch(CRON_PATTERN, cron)
