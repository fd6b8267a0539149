"""The pure masking planner: which sink column gets which rule, and when a run is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from dataops.api.v1alpha1.datapolicy import DataPolicySpec, MaskingMethod
from dataops.api.validation import validate_document
from dataops.plan.runplan import RunPlan, build_run_plan
from dataops.plan.spark_driver import Launch, build_driver_pod, build_spark_application
from dataops.policy.masking import (
    STRICTNESS,
    MaskingRule,
    UnresolvedDerivation,
    keys_needed,
    masking_rules,
    plan_columns,
    strictest,
)

SOURCES = {"users": ["id", "email", "name", "dob", "country"], "orders": ["oid", "uid", "amount"]}
KEY = {"secretName": "mask", "key": "k"}


def _policy(*columns: dict[str, Any], key: dict[str, str] | None = KEY) -> DataPolicySpec:
    body: dict[str, Any] = {"piiColumns": list(columns)}
    if key is not None:
        body["maskingKey"] = key
    return DataPolicySpec.model_validate(body)


def _rules(*columns: dict[str, Any]) -> list[MaskingRule]:
    return masking_rules([("p", _policy(*columns))])


def _plan(rules: list[MaskingRule], sql: str, columns: list[str], **kw: Any) -> dict[str, str]:
    decided = plan_columns(
        rules=rules,
        sink="out",
        output_columns=columns,
        from_="step",
        steps={"step": sql},
        source_columns=SOURCES,
        **kw,
    )
    return {c: d.rule.method.value for c, d in decided.items()}


EMAIL_HASH = {"column": "email", "classification": "email", "masking": "hash"}


def test_derived_columns_follow_lineage() -> None:
    rules = _rules(EMAIL_HASH)
    assert _plan(rules, "SELECT upper(email) AS contact, id FROM users", ["contact", "id"]) == {
        "contact": "hash"
    }
    join = "SELECT u.email AS e, o.amount FROM users u JOIN orders o ON u.id = o.uid"
    assert _plan(rules, join, ["e", "amount"]) == {"e": "hash"}
    assert _plan(rules, "SELECT * FROM users", SOURCES["users"]) == {"email": "hash"}
    nested = "SELECT x FROM (SELECT concat(name, email) AS x FROM users) q"
    assert _plan(rules, nested, ["x"]) == {"x": "hash"}


def test_constants_and_counts_are_not_refused() -> None:
    rules = _rules(EMAIL_HASH)
    assert (
        _plan(
            rules,
            "SELECT count(*) AS n, 1 AS one, country FROM users GROUP BY country",
            ["n", "one", "country"],
        )
        == {}
    )


def test_untraceable_column_is_refused_naming_sink_and_column() -> None:
    rules = _rules(EMAIL_HASH)
    with pytest.raises(UnresolvedDerivation, match=r"sink 'out': column 'contact'.*'elsewhere'"):
        _plan(rules, "SELECT contact FROM elsewhere", ["contact"])
    with pytest.raises(UnresolvedDerivation, match="column 'v'"):
        _plan(rules, "SELECT v FROM users WHERE (", ["v"])


def test_unresolved_is_fine_when_nothing_is_classified_or_a_rule_names_the_column() -> None:
    assert (
        _plan(_rules({"column": "ssn", "classification": "nationalId"}), "SELECT a FROM nowhere", ["a"]) == {}
    )
    rules = _rules(EMAIL_HASH, {"column": "a", "classification": "other", "masking": "redact"})
    assert _plan(rules, "SELECT a FROM nowhere", ["a"]) == {"a": "redact"}
    # for protecting samples: untraceable columns get the strictest classified rule
    assert _plan(_rules(EMAIL_HASH), "SELECT a FROM nowhere", ["a"], refuse_unresolved=False) == {"a": "hash"}


def test_patterns_match_whole_names_case_insensitively() -> None:
    rules = _rules({"column": ".*_email", "pattern": True, "classification": "email", "masking": "redact"})
    assert _plan(rules, "SELECT * FROM users", ["WORK_EMAIL", "email", "work_email_count"]) == {
        "WORK_EMAIL": "redact"
    }
    exact = _rules({"column": "Email", "classification": "email", "masking": "nullify"})
    assert _plan(exact, "SELECT EMAIL FROM users", ["EMAIL"]) == {"EMAIL": "nullify"}


def test_strictest_rule_wins_across_policies() -> None:
    loose = _policy({"column": "email", "classification": "email", "masking": "partial", "keepLast": 2})
    strict = _policy(EMAIL_HASH)
    rules = masking_rules([("z-loose", loose), ("a-strict", strict)])
    assert _plan(rules, "SELECT email FROM users", ["email"]) == {"email": "hash"}
    # a derived column combines its sources: name (redact) and email (hash) -> redact
    rules = _rules(EMAIL_HASH, {"column": "name", "classification": "name", "masking": "redact"})
    assert _plan(rules, "SELECT concat(name, email) AS x FROM users", ["x"]) == {"x": "redact"}


_METHODS = st.sampled_from(list(MaskingMethod))


@given(st.lists(st.tuples(_METHODS, st.integers(0, 64)), min_size=1, max_size=8))
def test_strictest_is_order_independent_and_minimal(entries: list[tuple[MaskingMethod, int]]) -> None:
    rules = [
        MaskingRule(policy=f"p{i}", column="c", classification="other", method=m, keep_last=n)
        for i, (m, n) in enumerate(entries)
    ]
    chosen = strictest(rules)
    assert chosen == strictest(list(reversed(rules)))
    assert all(STRICTNESS.index(chosen.method) <= STRICTNESS.index(r.method) for r in rules)
    if chosen.method == MaskingMethod.PARTIAL:
        assert chosen.keep_last == min(r.keep_last for r in rules if r.method == MaskingMethod.PARTIAL)


def test_keys_are_required_by_the_model_and_carried_as_references() -> None:
    with pytest.raises(ValidationError, match="maskingKey is required"):
        _policy(EMAIL_HASH, key=None)
    with pytest.raises(ValidationError, match="maskingKey is required"):
        _policy({"column": "email", "classification": "email"}, key=None)  # hash by default
    _policy({"column": "email", "classification": "email", "masking": "redact"}, key=None)
    doc = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "p"},
        "spec": {"piiColumns": [{"column": "x", "classification": "other", "masking": "tokenize"}]},
    }
    assert any(e.path == "spec.maskingKey" for e in validate_document(doc))
    rules = _rules(EMAIL_HASH, {"column": "ssn", "classification": "nationalId", "masking": "redact"})
    assert [(k.name, k.key) for k in keys_needed(rules)] == [("mask", "k")]
    assert rules[1].key is None


def test_bad_pattern_names_the_policy() -> None:
    with pytest.raises(ValueError, match=r"DataPolicy 'p': spec.piiColumns\[0\].column"):
        _rules({"column": "(", "pattern": True, "classification": "other", "masking": "redact"})


def test_plan_carries_rules_and_pods_get_the_key_by_reference(example_pipeline: dict[str, Any]) -> None:
    from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
    from dataops.plan.children import Owner

    spec = DataPipelineSpec.model_validate(example_pipeline["spec"])
    plain = build_run_plan(name="p", namespace="ns", spec=spec)
    assert "masking" not in plain.canonical_json()
    rules = _rules(EMAIL_HASH)
    plan = build_run_plan(name="p", namespace="ns", spec=spec, masking=rules)
    assert plan.digest() != plain.digest()
    again = RunPlan.model_validate_json(plan.canonical_json())
    assert again.masking == rules
    owner = Owner(kind="DataPipeline", name="p", namespace="ns", uid="u")
    launch = Launch(owner=owner, run_id="r", attempt=1, image="img", masking_keys=tuple(keys_needed(rules)))
    env = build_driver_pod(launch, spec)["spec"]["containers"][0]["env"]
    entry = next(e for e in env if e["name"] == "DATAOPS_SECRET_MASK_K")
    assert entry["valueFrom"] == {"secretKeyRef": {"name": "mask", "key": "k"}}
    app_env = build_spark_application(launch, spec)["spec"]["driver"]["env"]
    assert any(e["name"] == "DATAOPS_SECRET_MASK_K" for e in app_env)


def _reconciled(example_pipeline: dict[str, Any], example_policy: dict[str, Any]) -> Any:
    from datetime import UTC, datetime

    from dataops.reconcile.pipeline import reconcile_pipeline
    from tests.unit.fake_kube import FakeKube

    kube = FakeKube()
    example_pipeline["spec"].pop("qualityGates", None)
    example_pipeline["metadata"].update(
        namespace="sales",
        uid="uid-1",
        generation=1,
        creationTimestamp="2026-11-25T09:00:00Z",
        annotations={"dataops.dev/run-now": "1"},
    )
    example_policy["metadata"]["namespace"] = "sales"
    example_policy["spec"].pop("requiredQualityGates", None)
    kube.put(example_policy)
    kube.put(example_pipeline)
    reconcile_pipeline(kube, example_pipeline, now=datetime(2026, 11, 25, 10, tzinfo=UTC))  # type: ignore[arg-type]
    return kube


def test_operator_puts_the_rules_in_the_plan_and_the_key_reference_in_the_driver(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    import json

    kube = _reconciled(example_pipeline, example_policy)
    [plan_map] = [m for m in kube.of_kind("ConfigMap") if "plan.json" in m.get("data", {})]
    plan = RunPlan.model_validate(json.loads(plan_map["data"]["plan.json"]))
    assert [(r.policy, r.column, r.method.value) for r in plan.masking] == [
        ("sales-governance", "email", "hash")
    ]
    assert plan.masking[0].key is not None and plan.masking[0].key.name == "sales-masking-key"
    [pod] = kube.of_kind("Pod")
    env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
    assert env["DATAOPS_SECRET_SALES_MASKING_KEY_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "sales-masking-key", "key": "key"}
    }


def test_operator_refuses_runs_under_an_unusable_rule(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    from dataops.kube.client import DATA_PIPELINE

    example_policy["spec"]["piiColumns"] = [
        {"column": "[unclosed", "pattern": True, "classification": "other", "masking": "redact"}
    ]
    kube = _reconciled(example_pipeline, example_policy)
    assert kube.of_kind("Pod") == []
    body = kube.get(DATA_PIPELINE, "sales", example_pipeline["metadata"]["name"])
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and "not a valid regular expression" in ready["message"]


def test_quality_outcomes_lose_values_of_protected_columns() -> None:
    from dataops.quality.gate import describe
    from dataops.quality.results import ExpectationOutcome, protect_outcome

    protected = {"Email": "email"}
    sample = ExpectationOutcome(
        type="expect_column_values_to_match_regex",
        column="email",
        success=False,
        severity="error",
        unexpected_count=2,
        unexpected_sample=["a@b.c", None],
    )
    hidden = protect_outcome(sample, protected)
    assert hidden.unexpected_sample == ["<masked email>", None] and hidden.unexpected_count == 2
    assert "a@b.c" not in describe(hidden)
    maximum = ExpectationOutcome(
        type="expect_column_max_to_be_between",
        column="EMAIL",
        success=False,
        severity="error",
        observed_value="z@y.x",
    )
    assert protect_outcome(maximum, protected).observed_value == "<masked email>"
    pair = ExpectationOutcome(
        type="expect_column_pair_values_to_be_equal",
        column=None,
        success=False,
        severity="error",
        unexpected_sample=[("a@b.c", "x")],
    )
    assert protect_outcome(pair, protected).unexpected_sample == ["<masked row>"]
    other = ExpectationOutcome(
        type="t", column="amount", success=False, severity="error", unexpected_sample=[5]
    )
    assert protect_outcome(other, protected) == other


def test_operator_refuses_runs_under_a_policy_whose_rules_cannot_be_read(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    """A policy stored before maskingKey was required (hash without a key) no longer validates: its
    rules cannot be applied, so the pipelines it selects must not write in clear."""
    from dataops.kube.client import DATA_PIPELINE

    del example_policy["spec"]["maskingKey"]
    kube = _reconciled(example_pipeline, example_policy)
    assert kube.of_kind("Pod") == []
    body = kube.get(DATA_PIPELINE, "sales", example_pipeline["metadata"]["name"])
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert (
        "DataPolicy 'sales-governance' selects this pipeline but its spec does not validate"
        in ready["message"]
    )


# -- onMalformed: Quarantine keeps raw records: refused for a source with a classified column ---------


def _quarantining(name: str, columns: list[str], policy: str = "Quarantine") -> Any:
    from dataops.api.v1alpha1.datapipeline import Source

    file: dict[str, Any] = {"path": "/d", "format": "csv", "onMalformed": policy}
    if policy == "Quarantine":
        file["quarantinePath"] = "/q"
    if columns:
        file["schema"] = [{"name": c, "type": "string"} for c in columns]
    return Source.model_validate({"name": name, "file": file})


def test_quarantine_of_a_source_with_a_classified_column_is_refused() -> None:
    from dataops.policy.quarantine import quarantine_refusals

    rules = _rules(
        {"column": "email", "classification": "email"},
        {"column": ".*_name", "pattern": True, "classification": "name", "masking": "redact"},
    )
    sources = [
        _quarantining("clean", ["id", "amount"]),  # nothing classified: quarantine stays allowed
        _quarantining("users", ["id", "EMAIL", "full_name"]),  # exact (any case) and pattern
        _quarantining("dropped", ["email"], policy="Drop"),  # Drop keeps nothing
        _quarantining("inferred", []),  # no declared schema: checked by the run on the inferred one
    ]
    [(path, why)] = quarantine_refusals(sources, rules)
    assert path == "spec.sources[1].file.onMalformed"
    assert why == (
        "Quarantine keeps raw records, which would keep classified columns EMAIL, full_name of source "
        "'users' (DataPolicy 'p') in clear; use Drop or Fail"
    )
    assert quarantine_refusals(sources, []) == []  # no policy selects the pipeline


def test_dataops_plan_and_the_operator_refuse_a_quarantine_of_classified_columns(
    example_pipeline: dict[str, Any], example_policy: dict[str, Any]
) -> None:
    from dataops.api.v1alpha1.datapipeline import DataPipeline
    from dataops.kube.client import DATA_PIPELINE
    from dataops.plan.preview import preview, render

    example_pipeline["spec"]["sources"][1]["file"].update(
        onMalformed="Quarantine",
        quarantinePath="/tmp/q",
        schema=[{"name": "customer_id", "type": "int"}, {"name": "email", "type": "string"}],
    )
    item = preview(
        DataPipeline.model_validate(example_pipeline),
        [("default", "sales-governance", DataPolicySpec.model_validate(example_policy["spec"]))],
    )
    assert item.refused_sources == [
        "spec.sources[1].file.onMalformed: Quarantine keeps raw records, which would keep classified "
        "column email of source 'customers' (DataPolicy 'sales-governance') in clear; use Drop or Fail"
    ]
    assert "masking: REFUSED: spec.sources[1].file.onMalformed" in render(item)
    kube = _reconciled(example_pipeline, example_policy)
    assert kube.of_kind("Pod") == [] and kube.of_kind("ConfigMap") == []
    body = kube.get(DATA_PIPELINE, "sales", example_pipeline["metadata"]["name"])
    ready = next(c for c in body["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "InvalidPlan", ready
    assert "spec.sources[1].file.onMalformed: Quarantine keeps raw records" in ready["message"]
    assert "classified column email" in ready["message"]
