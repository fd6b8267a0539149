"""Bad manifests are rejected by the real API server (generated CRD schema + CEL) with the field named,
and `dataops validate` gives the same verdict offline."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import apply, write_manifest

pytestmark = pytest.mark.cluster

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        last = parts[-1]
        if value is _DELETE:
            del node[last]
        elif last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


_DELETE = object()


def _both(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for m in mutations:
            m(doc)

    return mutate


def _duplicate_source(doc: dict[str, Any]) -> None:
    doc["spec"]["sources"].append(copy.deepcopy(doc["spec"]["sources"][0]))


# (id, kind, mutation, field path the API server and `dataops validate` must both name)
PIPELINE_CASES: list[tuple[str, Mutation, str]] = [
    ("wrong-type", _set("spec.retry.maxRetries", "three"), "spec.retry.maxRetries"),
    ("missing-required-list", _set("spec.sinks", _DELETE), "spec.sinks"),
    ("missing-required-field", _set("spec.sources.0.name", _DELETE), "spec.sources[0].name"),
    ("bad-cron", _set("spec.schedule.cron", "61 * * * *"), "spec.schedule.cron"),
    ("bad-cron-fields", _set("spec.schedule.cron", "every day"), "spec.schedule.cron"),
    ("bad-enum", _set("spec.sinks.0.mode", "upsert"), "spec.sinks[0].mode"),
    ("merge-without-keys", _set("spec.sinks.0.mode", "merge"), "spec.sinks[0].mergeKeys"),
    ("unknown-field", _set("spec.sinks.0.compression", "zstd"), "spec.sinks[0].compression"),
    ("two-source-kinds", _set("spec.sources.0.kafka", {"topic": "orders"}), "spec.sources[0]"),
    ("sink-from-unknown-step", _set("spec.sinks.0.from", "nowhere"), "spec.sinks"),
    (
        "partitions-out-of-range",
        _both(
            _set("spec.sources.0.file", _DELETE),
            _set("spec.sources.0.kafka", {"topic": "o", "partitions": 0}),
        ),
        "spec.sources[0].kafka.partitions",
    ),
    ("bad-identifier", _set("spec.sources.0.name", "Orders-Raw"), "spec.sources[0].name"),
    ("duplicate-source", _duplicate_source, "spec.sources[2]"),
    ("streaming-with-cron", _set("spec.mode", "Streaming"), "spec.sources"),
    ("backoff-above-cap", _set("spec.retry.backoffSeconds", 900), "spec.retry.backoffSeconds"),
    ("jdbc-sink-with-path", _set("spec.sinks.0.format", "jdbc"), "spec.sinks[0]"),
    ("name-too-long", _set("metadata.name", "x" * 41), "metadata.name"),
    (
        "retention-without-column",
        _set("spec.sinks.0.retentionColumn", _DELETE),
        "spec.sinks[0].retentionColumn",
    ),
    (
        "retention-column-not-a-partition",
        _set("spec.sinks.0.partitionBy", ["country"]),
        "spec.sinks[0].retentionColumn",
    ),
    (
        "retention-on-unpartitioned-parquet",
        _set("spec.sinks.0.partitionBy", _DELETE),
        "spec.sinks[0].retentionColumn",
    ),
    (
        "retention-column-without-days",
        _set("spec.sinks.0.retentionDays", _DELETE),
        "spec.sinks[0].retentionColumn",
    ),
    (
        "retention-on-streaming",
        _both(
            _set("spec.mode", "Streaming"),
            _set("spec.schedule", _DELETE),
            _set("spec.sources.0.file", _DELETE),
            _set("spec.sources.0.kafka", {"topic": "orders"}),
        ),
        "spec.sinks",
    ),
    (
        "retention-on-jdbc",
        _both(
            _set("spec.sinks.0.format", "jdbc"),
            _set("spec.sinks.0.path", _DELETE),
            _set("spec.sinks.0.retentionColumn", _DELETE),
            _set("spec.sinks.0.partitionBy", _DELETE),
            _set("spec.sinks.0.jdbc", {"url": "jdbc:postgresql://db/x", "table": "t"}),
        ),
        "spec.sinks[0].retentionDays",
    ),
]

SUITE_CASES: list[tuple[str, Mutation, str]] = [
    ("unknown-expectation", _set("spec.expectations.0.type", "expect_magic"), "spec.expectations[0].type"),
    (
        "between-without-bounds",
        _both(_set("spec.expectations.2.minValue", _DELETE), _set("spec.expectations.2.maxValue", _DELETE)),
        "spec.expectations[2].minValue",
    ),
    # free-form arguments (any JSON type): checked by the generated admission policy
    ("min-above-max", _set("spec.expectations.2.minValue", 20000), "spec.expectations[2].minValue"),
    ("bound-bool", _set("spec.expectations.2.maxValue", True), "spec.expectations[2].maxValue"),
    ("bound-list", _set("spec.expectations.4.minValue", [1]), "spec.expectations[4].minValue"),
    (
        "bound-other-map",
        _set("spec.expectations.2.minValue", {"$PARAM": "now()"}),
        "spec.expectations[2].minValue",
    ),
    ("value-set-on-other-type", _set("spec.expectations.1.valueSet", [1]), "spec.expectations[1].valueSet"),
    (
        "value-set-missing",
        _both(
            _set("spec.expectations.3.type", "expect_column_values_to_be_in_set"),
            _set("spec.expectations.3.regex", _DELETE),
        ),
        "spec.expectations[3].valueSet",
    ),
    (
        "value-set-nested",
        _both(
            _set("spec.expectations.0.type", "expect_column_values_to_be_in_set"),
            _set("spec.expectations.0.valueSet", ["a", {"b": 1}]),
        ),
        "spec.expectations[0].valueSet",
    ),
    (
        "pairs-set-nested",
        _set(
            "spec.expectations.0",
            {
                "type": "expect_column_pair_values_to_be_in_set",
                "columnA": "a",
                "columnB": "b",
                "valuePairsSet": [["x", ["y"]]],
            },
        ),
        "spec.expectations[0].valuePairsSet",
    ),
    (
        "ignore-row-if-of-other-family",
        _set(
            "spec.expectations.0",
            {
                "type": "expect_column_pair_values_to_be_equal",
                "columnA": "a",
                "columnB": "b",
                "ignoreRowIf": "never",
            },
        ),
        "spec.expectations[0].ignoreRowIf",
    ),
    (
        "z-scores-without-double-sided",
        _set(
            "spec.expectations.0",
            {"type": "expect_column_value_z_scores_to_be_less_than", "column": "a", "threshold": 3},
        ),
        "spec.expectations[0].doubleSided",
    ),
    ("argument-of-other-type", _set("spec.expectations.0.regex", "^a"), "spec.expectations[0].regex"),
    ("missing-argument", _set("spec.expectations.3.regex", _DELETE), "spec.expectations[3].regex"),
    ("mostly-above-one", _set("spec.expectations.0.mostly", 1.5), "spec.expectations[0].mostly"),
    (
        "pii-classifications-on-other-type",
        _set("spec.expectations.0.classifications", ["email"]),
        "spec.expectations[0].classifications",
    ),
    (
        "pii-unknown-classification",
        _both(
            _set("spec.expectations.0.type", "expect_column_values_to_not_contain_pii"),
            _set("spec.expectations.0.classifications", ["address"]),
        ),
        "spec.expectations[0].classifications[0]",
    ),
]

POLICY_CASES: list[tuple[str, Mutation, str]] = [
    ("bad-enforcement", _set("spec.enforcement", "Strict"), "spec.enforcement"),
    ("bad-masking", _set("spec.piiColumns.0.masking", "scramble"), "spec.piiColumns[0].masking"),
    ("retention-zero", _set("spec.retention.maxDays", 0), "spec.retention.maxDays"),
    ("hash-without-masking-key", _set("spec.maskingKey", _DELETE), "spec.maskingKey"),
]


def _offline(tmp_path: Path, doc: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = write_manifest(tmp_path, doc)
    return subprocess.run(
        [sys.executable, "-m", "dataops.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _check_rejected(kubectl: Any, tmp_path: Path, doc: dict[str, Any], field: str) -> None:
    result = kubectl("apply", "-f", str(write_manifest(tmp_path, doc)), check=False)
    assert result.returncode != 0, f"API server accepted a bad manifest: {result.stdout}"
    assert field in result.stderr, f"API server error does not name {field!r}: {result.stderr}"
    offline = _offline(tmp_path, doc)
    assert offline.returncode == 1, offline.stdout + offline.stderr
    assert field in offline.stdout, f"`dataops validate` does not name {field!r}: {offline.stdout}"


@pytest.mark.parametrize(
    ("mutation", "field"), [c[1:] for c in PIPELINE_CASES], ids=[c[0] for c in PIPELINE_CASES]
)
def test_bad_pipeline_rejected_online_and_offline(
    kubectl: Any, tmp_path: Path, example_pipeline: dict[str, Any], mutation: Mutation, field: str
) -> None:
    mutation(example_pipeline)
    _check_rejected(kubectl, tmp_path, example_pipeline, field)


@pytest.mark.parametrize(("mutation", "field"), [c[1:] for c in SUITE_CASES], ids=[c[0] for c in SUITE_CASES])
def test_bad_suite_rejected_online_and_offline(
    kubectl: Any, tmp_path: Path, example_suite: dict[str, Any], mutation: Mutation, field: str
) -> None:
    mutation(example_suite)
    _check_rejected(kubectl, tmp_path, example_suite, field)


@pytest.mark.parametrize(
    ("mutation", "field"), [c[1:] for c in POLICY_CASES], ids=[c[0] for c in POLICY_CASES]
)
def test_bad_policy_rejected_online_and_offline(
    kubectl: Any, tmp_path: Path, example_policy: dict[str, Any], mutation: Mutation, field: str
) -> None:
    mutation(example_policy)
    _check_rejected(kubectl, tmp_path, example_policy, field)


def test_valid_examples_accepted_online_and_offline(
    kubectl: Any,
    tmp_path: Path,
    example_pipeline: dict[str, Any],
    example_suite: dict[str, Any],
    example_policy: dict[str, Any],
) -> None:
    for doc in (example_suite, example_policy, example_pipeline):
        apply(kubectl, doc)
        offline = _offline(tmp_path, doc)
        assert offline.returncode == 0, offline.stdout
