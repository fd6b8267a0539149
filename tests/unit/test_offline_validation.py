"""The offline path follows the API server's pipeline: kubectl's YAML reading, strict unknown fields,
null pruning and defaults, strict JSON types, CEL rules (skipped after blocking errors), names.
The real API server's verdicts on the same classes are in tests/integration/test_offline_differential.py."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1 import DataPipeline
from dataops.api.v1alpha1.meta import name_length_rule
from dataops.api.validation import admitted_model, validate_document
from dataops.kubeyaml import KubectlYamlError, load_all, resolve_plain_scalar
from dataops.plan.sql_check import check_sql_steps
from tests.conftest import EXAMPLES


def _errors(doc: dict[str, Any]) -> dict[str, str]:
    return {e.path: e.reason for e in validate_document(doc)}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("y", True),
        ("Y", True),
        ("yes", True),
        ("YES", True),
        ("on", True),
        ("n", False),
        ("No", False),
        ("OFF", False),
        ("yEs", "yEs"),
        ("oN", "oN"),
        ("2026-01-01", "2026-01-01"),
        ("1:30", "1:30"),
        ("1e3", 1000.0),
        ("08", 8.0),
        ("010", 8),
        ("0x1f", 31),
        ("0o17", 15),
        ("0b101", 5),
        ("+5", 5),
        ("1_000", 1000),
        ("~", None),
        ("", None),
        ("Null", None),
        ("2.5", 2.5),
    ],
)
def test_plain_scalars_read_like_go_yaml_v2(text: str, value: Any) -> None:
    assert resolve_plain_scalar(text) == value
    assert type(resolve_plain_scalar(text)) is type(value)


def test_documents_become_the_json_kubectl_sends() -> None:
    (doc,) = load_all("a: 2.0\nb: '2.0'\nn: x\ny: [on, 'on', 1e21]\nc: !!str 3\n")
    assert doc == {"a": 2, "b": "2.0", "false": "x", "true": [True, "on", 1e21], "c": "3"}
    assert isinstance(doc["a"], int)
    # beyond int64 the API server decodes a number as a float, whichever way it was written
    (doc,) = load_all("big: 99999999999999999999\nbigfloat: 1e20\nfloat: 1e18\n")
    assert doc == {"big": 1e20, "bigfloat": 1e20, "float": 10**18}
    assert isinstance(doc["big"], float) and isinstance(doc["float"], int)
    with pytest.raises(KubectlYamlError):
        list(load_all("a: .inf\n"))


def test_strings_for_numbers_and_booleans_are_rejected(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["retry"]["maxRetries"] = "3"
    example_pipeline["spec"]["suspend"] = "true"
    assert _errors(example_pipeline) == {
        "spec.retry.maxRetries": "Invalid value",
        "spec.suspend": "Invalid value",
    }


def test_yaml_booleans_reach_the_validator_as_kubectl_reads_them() -> None:
    text = (EXAMPLES / "03-orders-pipeline.yaml").read_text()
    (doc,) = load_all(text.replace("    backoffSeconds: 30", "    backoffSeconds: 30\n  suspend: y"))
    assert validate_document(doc) == []
    assert doc["spec"]["suspend"] is True
    (doc,) = load_all(text.replace("    backoffSeconds: 30", "    backoffSeconds: 30\n  suspend: yEs"))
    assert _errors(doc) == {"spec.suspend": "Invalid value"}
    (doc,) = load_all(text.replace("name: orders\n", "name: n\n"))  # a source named n is false
    assert "spec.sources[0].name" in _errors(doc)


def test_nulls_are_pruned_and_defaults_applied(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["retry"]["maxRetries"] = None
    example_pipeline["spec"]["schedule"]["timeZone"] = None
    example_pipeline["spec"]["staging_path_typo"] = None  # unknown but null: dropped
    example_pipeline["spec"]["timeoutSeconds"] = None
    example_pipeline["metadata"]["annotations"] = None
    assert validate_document(example_pipeline) == []
    pipeline = admitted_model(example_pipeline)
    assert isinstance(pipeline, DataPipeline)
    assert pipeline.spec.retry.max_retries == 3
    assert pipeline.spec.schedule is not None and pipeline.spec.schedule.time_zone == "UTC"
    example_pipeline["spec"]["sinks"][0]["partitionBy"] = [None]  # a null list item is not pruned
    assert _errors(example_pipeline) == {"spec.sinks[0].partitionBy[0]": "Invalid value"}


def test_status_of_a_new_object_is_ignored(example_pipeline: dict[str, Any]) -> None:
    assert validate_document({**example_pipeline, "status": {"phase": "Bogus"}}) == []
    assert _errors({**example_pipeline, "status": {"bogus": 1}}) == {"status.bogus": "Unknown field"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Orders", {"metadata.name", "<nil>"}),  # not DNS-1123, and the CEL rule is case sensitive
        ("bad_name", {"metadata.name"}),
        ("orders-", {"metadata.name"}),
        ("9orders", {"<nil>"}),
        ("a" * 41, {"<nil>"}),
        ("a" * 40, set()),
        ("orders.v2", set()),
    ],
)
def test_names(example_pipeline: dict[str, Any], name: str, expected: set[str]) -> None:
    example_pipeline["metadata"]["name"] = name
    assert set(_errors(example_pipeline)) == expected


def test_name_rule_twin_agrees_with_its_cel_expression() -> None:
    rule = name_length_rule("DataPipeline")
    assert "matches('^[a-z]')" in rule.rule

    class Meta:
        def __init__(self, name: str) -> None:
            self.metadata = type("M", (), {"name": name})()

    for name, ok in (("abc", True), ("Abc", False), ("éabc", False), ("1abc", False), ("a" * 41, False)):
        assert rule.check(Meta(name)) is ok, name


def test_labels_and_annotations(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["metadata"]["labels"] = {"bad key": "x", "ok": "-bad-value"}
    assert _errors(example_pipeline) == {"metadata.labels": "Invalid value"}
    example_pipeline["metadata"]["labels"] = {"team": True}
    assert _errors(example_pipeline) == {"metadata.labels": "Invalid value"}


def test_every_rule_is_reported_but_none_after_a_blocking_error(example_pipeline: dict[str, Any]) -> None:
    doc = copy.deepcopy(example_pipeline)
    doc["spec"]["sinks"][0]["mode"] = "merge"
    doc["spec"]["transforms"][0]["name"] = "orders"  # breaks two spec rules
    doc["spec"]["qualityGates"][0]["dataset"] = ""  # a non-blocking error below a rule's node
    assert set(_errors(doc)) == {
        "spec.sinks[0].mergeKeys",
        "spec.transforms",
        "spec.qualityGates",
        "spec.qualityGates[0].dataset",
    }
    doc["spec"]["retry"]["maxRetries"] = "3"  # a type error: the API server checks no rule
    assert set(_errors(doc)) == {"spec.qualityGates[0].dataset", "spec.retry.maxRetries"}


def test_runtime_parsing_stays_lax(example_pipeline: dict[str, Any]) -> None:
    example_pipeline["spec"]["retry"]["maxRetries"] = "3"
    assert DataPipeline.model_validate(example_pipeline).spec.retry.max_retries == 3


def _pipeline_with_schema(example_pipeline: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(example_pipeline)
    columns = ("order_id:long", "customer_id:long", "amount:double", "order_date:date", "status:string")
    doc["spec"]["sources"][0]["file"]["schema"] = [
        {"name": c.split(":")[0], "type": c.split(":")[1]} for c in columns
    ]
    doc["spec"]["sources"][1]["file"]["schema"] = [
        {"name": "customer_id", "type": "long"},
        {"name": "country", "type": "string"},
    ]
    return doc


def _sql_problems(doc: dict[str, Any]) -> list[str]:
    pipeline = admitted_model(doc)
    assert isinstance(pipeline, DataPipeline)
    return [str(p) for p in check_sql_steps(pipeline.spec)]


def test_sql_steps_are_checked(example_pipeline: dict[str, Any]) -> None:
    assert _sql_problems(example_pipeline) == []
    doc = _pipeline_with_schema(example_pipeline)
    assert _sql_problems(doc) == []
    transforms = doc["spec"]["transforms"]
    transforms[0]["sql"] = "SELECT order_id, custmer_id FROM orders"
    transforms[1]["sql"] = "SELECT c.country FROM completed_orders o JOIN custmers c ON o.order_id = c.id"
    transforms.append({"name": "broken", "sql": "SELECT FROM WHERE"})
    problems = _sql_problems(doc)
    assert len(problems) == 3, problems
    assert problems[0].startswith("spec.transforms[0].sql: Invalid value:") and "custmer_id" in problems[0]
    assert problems[1].startswith("spec.transforms[1].sql:") and "'custmers'" in problems[1]
    assert problems[2].startswith("spec.transforms[2].sql:") and "syntax error" in problems[2]


def test_sql_names_that_are_not_views_of_the_pipeline(example_pipeline: dict[str, Any]) -> None:
    steps = example_pipeline["spec"]["transforms"]
    steps[0]["sql"] = "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent"
    steps[1]["sql"] = "SELECT * FROM parquet.`/tmp/x` JOIN db.t ON 1 = 1 JOIN completed_orders ON 1 = 1"
    assert _sql_problems(example_pipeline) == []
    # without declared schemas columns are not judged
    steps[0]["sql"] = "SELECT no_such_column FROM orders"
    assert _sql_problems(example_pipeline) == []


def test_validate_takes_several_files_after_one_flag(
    tmp_path: Path, example_pipeline: dict[str, Any]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(example_pipeline))
    bad_doc = copy.deepcopy(example_pipeline)
    bad_doc["spec"]["retry"]["maxRetries"] = "3"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(bad_doc))
    for args in (["-f", str(good), str(bad)], ["-f", str(good), "-f", str(bad)]):
        result = subprocess.run(
            [sys.executable, "-m", "dataops.cli", "validate", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        assert "1 valid, 1 invalid" in result.stdout
        assert "spec.retry.maxRetries" in result.stdout
