"""Pure parts of the governance features: SQL steps are queries only, retention is accepted only
where it can be enforced, classified columns, the run summary's way into status."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.api.v1alpha1.common import ConditionType, Reason
from dataops.api.v1alpha1.datapipeline import DataPipelineSpec, RunRecord, RunTrigger, UnclassifiedColumn
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, PiiColumn
from dataops.api.validation import validate_document
from dataops.plan.scheduling import _governance
from dataops.plan.sql_guard import check_steps, query_only_problem
from dataops.policy.classified import classifying_entry, unclassified
from dataops.policy.evaluate import PolicyFinding, pipeline_violations
from dataops.policy.masking import masking_rules
from dataops.policy.selectors import selector_matches
from dataops.runtime.summary import RunSummary
from dataops.status.pipeline import _policy_condition
from tests.conftest import ROOT

QUERIES = [
    "SELECT 1",
    "select a from t",
    "WITH x AS (SELECT 1 AS a) SELECT * FROM x",
    "WITH x AS (SELECT 1 AS a), y AS (SELECT a FROM x) SELECT * FROM y",
    "VALUES (1, 2), (3, 4)",
    "SELECT * FROM (VALUES (1)) v(a)",
    "SELECT 1 UNION ALL SELECT 2",
    "(SELECT 1) EXCEPT (SELECT 2)",
    "SELECT 1 INTERSECT SELECT 1",
    "FROM t SELECT a",
    "SELECT ';' AS semicolon",
    "SELECT 'a;DROP TABLE t' AS s",
    "SELECT `a;b` FROM t",
    "SELECT 1 -- ; DROP TABLE t",
    "SELECT 1 /* ; SET x=1; */",
    "-- leading comment\nSELECT 1",
    "select 1;",
    "SELECT 1 ;  -- trailing\n",
    "SELECT /*+ BROADCAST(t) */ * FROM t",
    "select * from t where x = 'it''s'",
]
NOT_QUERIES = [
    "INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1",
    "insert overwrite directory '/tmp/x' using parquet select * from t",
    "CREATE TABLE t LOCATION '/tmp/x' AS SELECT 1",
    "CREATE TEMPORARY VIEW v AS SELECT 1",
    "SET spark.sql.shuffle.partitions=1",
    "set",
    "RESET",
    "ADD JAR /tmp/evil.jar",
    "add file /etc/passwd",
    "DROP TABLE t",
    "CACHE TABLE t",
    "UNCACHE TABLE t",
    "CLEAR CACHE",
    "REFRESH TABLE t",
    "MSCK REPAIR TABLE t",
    "LOAD DATA INPATH '/x' INTO TABLE t",
    "USE other",
    "SHOW TABLES",
    "EXPLAIN SELECT 1",
    "DELETE FROM t",
    "UPDATE t SET a = 1",
    "TRUNCATE TABLE t",
    "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE t",
    "sElEcT 1;\n dRoP tAbLe t",
    "SELECT 1 /* c */ ; SET x=1",
    "SELECT ';'; SET x=1",
    "/* SELECT 1 */ DROP TABLE t",
    "-- SELECT\nSET x=1",
    ";",
    "   ",
    "-- nothing\n",
    "SELECT 1 /* unterminated",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_queries_pass(sql: str) -> None:
    assert query_only_problem(sql) is None


@pytest.mark.parametrize("sql", NOT_QUERIES)
def test_commands_and_multiple_statements_are_refused(sql: str) -> None:
    assert query_only_problem(sql) is not None


def _pipeline(sql: str) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "p"},
        "spec": {
            "sources": [{"name": "src", "file": {"path": "/in"}}],
            "transforms": [{"name": "ok", "sql": "SELECT * FROM src"}, {"name": "bad", "sql": sql}],
            "sinks": [{"name": "out", "from": "ok", "path": "/out"}],
        },
    }


def test_check_steps_names_the_step_and_field() -> None:
    spec = DataPipelineSpec.model_validate(_pipeline("ADD JAR /tmp/x.jar")["spec"])
    errors = check_steps(spec)
    assert [e.path for e in errors] == ["spec.transforms[1].sql"]
    assert "step 'bad'" in errors[0].message and "ADD JAR" in errors[0].message


def test_dataops_validate_refuses_a_command_step(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(_pipeline("SELECT 1; INSERT OVERWRITE DIRECTORY '/tmp/x' SELECT 1")))
    result = subprocess.run(
        [sys.executable, "-m", "dataops.cli", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 1
    assert "spec.transforms[1].sql: Invalid value: step 'bad': SQL holds 2 statements" in result.stdout
    assert "Traceback" not in result.stderr


def _sink_errors(sink: dict[str, Any]) -> list[str]:
    doc = _pipeline("SELECT 1")
    doc["spec"]["sinks"] = [{"name": "out", "from": "ok", **sink}]
    return [str(e) for e in validate_document(doc)]


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ({"path": "/o", "retentionDays": 30}, "retentionDays needs retentionColumn"),
        ({"path": "/o", "format": "delta", "retentionDays": 30}, "retentionDays needs retentionColumn"),
        ({"path": "/o", "retentionDays": 30, "retentionColumn": "d"}, "must be one of partitionBy"),
        (
            {
                "path": "/o",
                "format": "csv",
                "retentionDays": 30,
                "retentionColumn": "d",
                "partitionBy": ["x"],
            },
            "must be one of partitionBy",
        ),
        ({"path": "/o", "retentionColumn": "d", "partitionBy": ["d"]}, "only used with retentionDays"),
        (
            {"format": "jdbc", "jdbc": {"url": "jdbc:h2:mem:x", "table": "t"}, "retentionDays": 30},
            "cannot be enforced on a jdbc sink",
        ),
    ],
)
def test_unenforceable_retention_is_refused(sink: dict[str, Any], message: str) -> None:
    errors = _sink_errors(sink)
    assert any(message in e and e.startswith("spec.sinks[0].retention") for e in errors), errors


@pytest.mark.parametrize(
    "sink",
    [
        {"path": "/o", "format": "delta", "retentionDays": 30, "retentionColumn": "d"},
        {"path": "/o", "retentionDays": 30, "retentionColumn": "d", "partitionBy": ["x", "d"]},
        {"path": "/o", "format": "json", "retentionDays": 1, "retentionColumn": "d", "partitionBy": ["d"]},
        {"path": "/o"},
    ],
)
def test_enforceable_retention_is_accepted(sink: dict[str, Any]) -> None:
    assert _sink_errors(sink) == []


def test_examples_still_validate() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dataops.cli", "validate", "-f", "examples"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout


def test_classified_columns_by_name_and_pattern() -> None:
    entries = [
        PiiColumn.model_validate({"column": "Email", "classification": "email"}),
        PiiColumn.model_validate({"column": "phone_.*", "pattern": True, "classification": "phone"}),
        PiiColumn.model_validate({"column": "([", "pattern": True, "classification": "other"}),  # bad regex
    ]
    assert classifying_entry("email", entries) is entries[0]
    assert classifying_entry("phone_home", entries) is entries[1]
    assert classifying_entry("my_phone_home", entries) is None  # patterns match the whole name
    assert classifying_entry("EMail", entries) is entries[0]  # both any case, as masking matches them
    assert classifying_entry("PHONE_Home", entries) is entries[1]
    assert unclassified(["email", "phone_x", "ssn", "(["], entries) == ["ssn", "(["]


@pytest.mark.parametrize(
    ("entry", "column"),
    [
        ({"column": "phone_.*", "pattern": True}, "PHONE_HOME"),
        ({"column": "Phone_.*", "pattern": True}, "phone_home"),
        ({"column": ".*_[a-z]+_ID", "pattern": True}, "customer_Tax_id"),
        ({"column": "eMail", "pattern": False}, "EMAIL"),
        ({"column": "ssn|tax_id", "pattern": True}, "TAX_ID"),
    ],
)
def test_classification_and_masking_match_names_alike(entry: dict[str, Any], column: str) -> None:
    """piiColumns classify a column exactly when they mask it: case-insensitively, as Spark resolves
    column names, for exact names and patterns alike (a column ``PHONE_HOME`` that is masked must not
    also be reported as unclassified personal data)."""
    pii = PiiColumn.model_validate({**entry, "classification": "phone", "masking": "redact"})
    (rule,) = masking_rules([("p", DataPolicySpec(pii_columns=[pii]))])
    assert rule.matches(column)
    assert classifying_entry(column, [pii]) is pii
    assert unclassified([column, "other"], [pii]) == ["other"]


def test_patterns_still_match_the_whole_name_in_any_case() -> None:
    pii = PiiColumn.model_validate(
        {"column": "phone", "pattern": True, "classification": "phone", "masking": "redact"}
    )
    (rule,) = masking_rules([("p", DataPolicySpec(pii_columns=[pii]))])
    for column in ("PHONE_HOME", "my_phone", "phones"):
        assert classifying_entry(column, [pii]) is None and not rule.matches(column)


def _example_documents(kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        if "argocd" in path.parts or "overlays" in path.parts:
            continue  # Argo CD test data and the kustomize copies (tests/gitops checks those)
        found += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == kind]
    return found


def test_example_pipelines_comply_with_the_example_policies_that_select_them() -> None:
    """Every write location of the examples (sinks, model versions, streaming checkpoints) is inside
    the allowedSinks of each example policy selecting the pipeline, and retention is as required.
    Quality gates are not this test's subject (the shop's streaming ingest declares only a warn gate
    while its policy asks for a blocking one)."""
    pipelines = _example_documents("DataPipeline")
    checked = 0
    for policy_doc in _example_documents("DataPolicy"):
        policy = DataPolicySpec.model_validate(policy_doc["spec"])
        policy = policy.model_copy(update={"required_quality_gates": None})
        for doc in pipelines:
            if selector_matches(policy.pipeline_selector, doc["metadata"].get("labels", {})):
                spec = DataPipelineSpec.model_validate(doc["spec"])
                assert pipeline_violations(policy, spec) == [], (policy_doc["metadata"], doc["metadata"])
                checked += 1
    assert checked >= 3  # orders under sales-governance; the shop's batch and streaming pipelines


def _run(unclassified_pii: list[UnclassifiedColumn]) -> RunRecord:
    return RunRecord(
        id="r1", trigger=RunTrigger.MANUAL, outcome="Succeeded", unclassified_pii=unclassified_pii
    )


def test_unclassified_personal_data_is_a_warning_on_policy_compliant() -> None:
    found = [UnclassifiedColumn(sink="out", column="contact", classification="email", ratio=0.97)]
    none = _policy_condition([], _run([]))
    assert (none.status.value, none.reason) == ("True", Reason.NO_POLICY)
    warned = _policy_condition([], _run(found))
    assert warned.type == ConditionType.POLICY_COMPLIANT
    assert (warned.status.value, warned.reason) == ("True", Reason.UNCLASSIFIED_PERSONAL_DATA)
    assert "out.contact looks like email (97%)" in warned.message
    violated = _policy_condition([PolicyFinding("p", "Enforce", ["sink bad"])], _run(found))
    assert (violated.status.value, violated.reason) == ("False", Reason.POLICY_VIOLATION)
    assert "sink bad" in violated.message and "out.contact" in violated.message


def test_summary_reaches_the_run_record_within_the_termination_limit() -> None:
    summary = RunSummary(pipeline="p", run_id="r", started=datetime.now(UTC), outcome="Succeeded")
    summary.retention = {"out": {"column": "d", "days": 3, "cutoff": "x", "partitionsDropped": 2}}
    summary.unclassified_pii = [{"sink": "out", "column": "c", "classification": "phone", "ratio": 0.9}]
    summary.warnings = ["w" * 500] * 20  # free text is dropped first when the message is too long
    message = summary.termination_message()
    assert len(message) <= 4000
    retention, found = _governance(message)
    assert [(r.sink, r.partitions_dropped) for r in retention] == [("out", 2)]
    assert [(u.column, u.classification) for u in found] == [("c", "phone")]
    assert _governance("not json") == ([], [])
    assert _governance(json.dumps({"retention": {"x": 5}, "unclassifiedPii": [{"bad": 1}]})) == ([], [])


def test_pii_expectation_arguments() -> None:
    base = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataQualitySuite",
        "metadata": {"name": "s"},
        "spec": {"expectations": [{"type": "expect_column_values_to_not_contain_pii", "column": "c"}]},
    }
    assert validate_document(base) == []
    doc = copy.deepcopy(base)
    doc["spec"]["expectations"][0]["classifications"] = ["email", "nationalId"]
    assert validate_document(doc) == []
    doc["spec"]["expectations"][0]["classifications"] = ["address"]
    assert validate_document(doc)
    doc = copy.deepcopy(base)
    del doc["spec"]["expectations"][0]["column"]
    assert any("column" in str(e) for e in validate_document(doc))


def test_streaming_sinks_cannot_set_retention() -> None:
    doc = _pipeline("SELECT 1")
    doc["spec"]["mode"] = "Streaming"
    doc["spec"]["sources"] = [{"name": "src", "kafka": {"topic": "t"}}]
    doc["spec"]["sinks"][0].update(format="delta", retentionDays=7, retentionColumn="d")
    errors = [str(e) for e in validate_document(doc)]
    assert any(
        e.startswith("spec.sinks: Invalid value: retentionDays is enforced after batch") for e in errors
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT reflect('java.lang.System', 'getenv', 'DATAOPS_MASKING_KEY') AS k FROM orders",
        "select JAVA_METHOD('java.lang.System', 'getenv') from orders",
        "SELECT `reflect`('java.lang.System', 'getenv') FROM orders",
        "SELECT try_reflect ('java.lang.System', 'getenv') FROM orders",
        "WITH x AS (SELECT reflect('a', 'b') AS v) SELECT v FROM x",
        "SELECT * FROM parquet.`/lake/hr/salaries`",
        "SELECT * FROM delta.`s3a://other-team/table`",
    ],
)
def test_steps_may_not_run_jvm_code_or_read_undeclared_files(sql: str) -> None:
    """A step that reads the driver's environment (secrets such as the masking key) or files no
    source declares (and no policy saw) is refused like a command."""
    from dataops.plan.sql_guard import query_only_problem

    assert query_only_problem(sql) is not None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'reflect(' AS text FROM orders",
        "SELECT reflect FROM orders",  # a column named reflect
        "SELECT /* java_method( */ 1",
        "SELECT p.amount FROM parquet_orders p",
    ],
)
def test_lookalikes_of_denied_calls_are_queries(sql: str) -> None:
    from dataops.plan.sql_guard import query_only_problem

    assert query_only_problem(sql) is None
