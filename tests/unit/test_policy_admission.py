"""Sink-location normalisation, fnmatch globs as RE2, and the DataPolicy -> admission policy compiler."""

from __future__ import annotations

import json
import posixpath
import re
import warnings
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.datapolicy import DataPolicySpec, Enforcement
from dataops.policy.admission import (
    MAX_EXPRESSION_SIZE,
    MAX_NAME_LENGTH,
    admission_name,
    cel_string,
    compile_admission,
    object_selector,
)
from dataops.policy.evaluate import pipeline_violations, violations
from dataops.policy.locations import MAX_SEGMENTS, glob_to_re2, normalize_location
from dataops.status.policy import admission_condition

# -- normal form ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "normal"),
    [
        ("/data/sales/x", "/data/sales/x"),
        ("/data/sales/", "/data/sales"),
        ("/data//sales///x//", "/data/sales/x"),
        ("/data/./sales/.", "/data/sales"),
        ("/data/sales/../hr/x", "/data/hr/x"),
        ("/data/sales/..", "/data"),
        ("/", "/"),
        ("//", "/"),
        ("/..", None),
        ("/data/../../etc", None),
        ("../x", None),
        ("a/../b", "b"),
        ("a/..", ""),
        ("relative/./x/", "relative/x"),
        ("s3a://bucket/a/../b/", "s3a://bucket/b"),
        ("s3a://bucket/", "s3a://bucket"),
        ("s3a://bucket", "s3a://bucket"),
        ("s3a://bucket/..", None),  # the bucket is the root: '..' cannot reach another bucket
        ("s3a://bucket/../other/x", None),
        ("file:///srv/x/../y", "file:///srv/y"),
        ("file:///", "file://"),
        ("jdbc:postgresql://db:5432/sales#public.t", "jdbc:postgresql://db:5432/sales#public.t"),
        ("jdbc:postgresql://db:5432/sales/../hr#t", "jdbc:postgresql://db:5432/hr#t"),
        ("jdbc:oracle:thin:@db:1521/x#t", "jdbc:oracle:thin:@db:1521/x#t"),
        ("/data/.../x", "/data/.../x"),  # three dots is a name
        ("/data/..x/y", "/data/..x/y"),
    ],
)
def test_normal_form(location: str, normal: str | None) -> None:
    assert normalize_location(location).text == normal


def test_deep_locations_with_dotdot_match_nothing() -> None:
    deep = "/" + "/".join(["a"] * (MAX_SEGMENTS - 1)) + "/.."
    assert normalize_location(deep).problem is not None
    assert normalize_location(deep[: -len("/a/..")] + "/..").text is not None
    flat = "/" + "/".join(["a"] * 500) + "/"  # without '..' any depth is fine
    assert normalize_location(flat).text == flat[:-1]


_SEGMENT = st.sampled_from(["a", "b", "..", ".", "", "c.d", "*", "x y"])


@given(st.lists(_SEGMENT, max_size=12).map(lambda s: "/" + "/".join(s)))
def test_absolute_paths_resolve_like_posix_or_are_refused(path: str) -> None:
    """Where we give a normal form it is POSIX's; where POSIX clamps '/..' to '/', we refuse."""
    normal = normalize_location(path).text
    expected = posixpath.normpath(path)
    if path.startswith("//") and not path.startswith("///"):
        expected = "/" + expected.lstrip("/")  # POSIX keeps exactly two leading slashes
    if normal is not None:
        assert normal == expected
        return
    depth = 0
    for segment in path.split("/"):
        depth += {"..": -1, ".": 0, "": 0}.get(segment, 1)
        if depth < 0:
            return
    pytest.fail(f"{path} was refused but never climbs above the root")


@given(
    st.sampled_from(["", "/", "s3a://b", "s3a://b/", "file://", "jdbc:x://h"]),
    st.lists(_SEGMENT, max_size=10),
)
def test_normalising_is_idempotent_and_leaves_no_dot_segments(head: str, segments: list[str]) -> None:
    normal = normalize_location(head + "/".join(segments)).text
    if normal is None:
        return
    assert normalize_location(normal).text == normal
    rest = (
        normal[len(re.match(r"^[A-Za-z][A-Za-z0-9+.:-]*://[^/]*", normal)[0]) :]
        if "://" in normal
        else normal
    )
    assert not {".", ".."} & set(rest.split("/"))


@given(st.lists(_SEGMENT, max_size=10))
def test_dotdot_never_leaves_a_pattern(segments: list[str]) -> None:
    """A location allowed by `/data/sales/*` resolves (POSIX) to something under /data/sales/."""
    location = "/data/sales/" + "/".join(segments)
    normal = normalize_location(location).text
    if normal is not None and fnmatchcase(normal, "/data/sales/*"):
        assert posixpath.normpath(location).startswith("/data/sales/")


# -- globs ------------------------------------------------------------------------------------

_GLOB_ALPHABET = st.sampled_from([*"ab-!^]\\[*?/.&~|z\n(){}$+", "é", "\x00", "😀"])


@settings(max_examples=3000)
@given(st.text(_GLOB_ALPHABET, max_size=10), st.text(_GLOB_ALPHABET, max_size=8))
def test_glob_regex_matches_exactly_what_fnmatch_matches(pattern: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "possible nested set" ambiguity left in the regex
        regex = glob_to_re2(pattern)
    assert (re.fullmatch(regex, name) is not None) == fnmatchcase(name, pattern), regex


@pytest.mark.parametrize(
    ("pattern", "regex"),
    [
        ("/data/*", "(?s)^/data/.*$"),
        ("a?c", "(?s)^a.c$"),
        ("[!0-9]x", "(?s)^[^0-9]x$"),
        ("[]]", "(?s)^[\\]]$"),
        ("[z-a]", "(?s)^[^\\s\\S]$"),
        ("[!z-a]", "(?s)^.$"),
        ("a[", "(?s)^a\\[$"),
        ("x.y+(z)", "(?s)^x\\.y\\+\\(z\\)$"),
        ("**", "(?s)^.*$"),
    ],
)
def test_glob_regex_shape(pattern: str, regex: str) -> None:
    assert glob_to_re2(pattern) == regex


# -- offline evaluation ---------------------------------------------------------------------------


def _pipeline(*paths: str, **sink: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "raw", "file": {"path": "/in"}}],
            "sinks": [{"name": f"s{i}", "from": "raw", "path": p, **sink} for i, p in enumerate(paths)],
        }
    )


def test_offline_evaluation_normalises_before_matching() -> None:
    policy = DataPolicySpec.model_validate({"allowedSinks": ["/data/sales/*"]})
    assert pipeline_violations(policy, _pipeline("/data/sales/x/", "/data/sales//y")) == []
    found = violations(policy, _pipeline("/data/sales/x", "/data/sales/../hr/x", "/data/sales/../../../x"))
    assert [v.field for v in found] == ["spec.sinks[1].path", "spec.sinks[2].path"]
    assert "(normalised '/data/hr/x')" in found[0].message
    assert "climbs above its root" in found[1].message


def _writer(
    *,
    quarantine: str = "/data/sales/q",
    model: str = "/data/sales/models/m",
    staging: str = "/data/sales/staging",
    sink: str = "/data/sales/x",
) -> DataPipelineSpec:
    """A Batch pipeline that writes raw records, model versions, staged output and a sink."""
    return DataPipelineSpec.model_validate(
        {
            "sources": [
                {"name": "events", "file": {"path": "/in"}},
                {
                    "name": "raw",
                    "file": {
                        "path": "/in.csv",
                        "format": "csv",
                        "onMalformed": "Quarantine",
                        "quarantinePath": quarantine,
                    },
                },
            ],
            "transforms": [
                {"name": "clean", "sql": "SELECT * FROM raw"},
                {
                    "name": "train",
                    "model": {"input": "clean", "path": model, "als": {"userColumn": "u", "itemColumn": "i"}},
                },
            ],
            "stagingPath": staging,
            "sinks": [{"name": "out", "from": "train", "path": sink}],
        }
    )


def test_every_write_location_is_subject_to_allowed_sinks() -> None:
    """Raw records, model versions and staged output are written data too: a pattern that keeps the
    sinks in /data/sales does not let them go elsewhere."""
    policy = DataPolicySpec.model_validate({"allowedSinks": ["/data/sales/*"]})
    assert violations(policy, _writer()) == []
    out = "/elsewhere/x"
    found = violations(policy, _writer(quarantine=out, model=out, staging=out, sink=out))
    assert [v.field for v in found] == [
        "spec.sources[1].file.quarantinePath",
        "spec.transforms[1].model.path",
        "spec.stagingPath",
        "spec.sinks[0].path",
    ]
    assert found[0].message == (
        "source 'raw' quarantine (spec.sources[1].file.quarantinePath) writes to '/elsewhere/x', "
        "which no allowedSinks pattern matches"
    )
    assert found[1].message.startswith("model step 'train' (spec.transforms[1].model.path) writes to")
    assert found[2].message.startswith("staging (spec.stagingPath) writes to")
    escaping = violations(policy, _writer(model="/data/sales/../hr/models"))
    assert [v.field for v in escaping] == ["spec.transforms[1].model.path"]
    assert "(normalised '/data/hr/models')" in escaping[0].message
    climbing = violations(policy, _writer(staging="/data/sales/../../../etc"))
    assert [v.field for v in climbing] == ["spec.stagingPath"]
    assert "climbs above its root" in climbing[0].message


def test_an_empty_staging_path_is_unset() -> None:
    """The runtime stages next to each sink when stagingPath is empty: nothing else is written."""
    policy = DataPolicySpec.model_validate({"allowedSinks": ["/data/sales/*"]})
    assert violations(policy, _writer(staging="")) == []


def _streaming(checkpoint: str | None, **sink: Any) -> DataPipelineSpec:
    return DataPipelineSpec.model_validate(
        {
            "mode": "Streaming",
            "sources": [{"name": "raw", "kafka": {"topic": "t"}}],
            "sinks": [{"name": "out", "from": "raw", "format": "delta", "path": "/data/sales/x", **sink}],
            **({"streaming": {"checkpointLocation": checkpoint}} if checkpoint is not None else {}),
        }
    )


def test_the_streaming_checkpoint_is_subject_to_allowed_sinks() -> None:
    policy = DataPolicySpec.model_validate({"allowedSinks": ["/data/sales/*"]})
    assert violations(policy, _streaming("/data/sales/_checkpoints/x")) == []
    assert violations(policy, _streaming(None)) == []
    assert violations(policy, _streaming("")) == []
    (found,) = violations(policy, _streaming("/tmp/ckpt"))
    assert found.field == "spec.streaming.checkpointLocation"
    assert found.message == (
        "streaming checkpoint (spec.streaming.checkpointLocation) writes to '/tmp/ckpt', "
        "which no allowedSinks pattern matches"
    )


def test_max_days_applies_only_where_retention_days_can_be_set() -> None:
    """The CRD refuses retentionDays on JDBC sinks and on a Streaming pipeline's sinks: a maxDays
    policy requires it of the other sinks only, so such pipelines can comply."""
    policy = DataPolicySpec.model_validate({"retention": {"maxDays": 30}})
    jdbc = {"name": "db", "from": "raw", "format": "jdbc", "jdbc": {"url": "jdbc:h2:mem:x", "table": "t"}}
    batch = DataPipelineSpec.model_validate(
        {
            "sources": [{"name": "raw", "file": {"path": "/in"}}],
            "sinks": [jdbc, {"name": "lake", "from": "raw", "format": "delta", "path": "/l"}],
        }
    )
    found = violations(policy, batch)
    assert [(v.field, v.message) for v in found] == [
        ("spec.sinks[1].retentionDays", "sink 'lake' sets no retentionDays; policy requires at most 30")
    ]
    assert violations(policy, _streaming(None)) == []
    compliant = batch.model_copy(update={"sinks": batch.sinks[:1]})
    assert violations(policy, compliant) == []


# -- the compiler -----------------------------------------------------------------------------


def _spec(**fields: Any) -> DataPolicySpec:
    return DataPolicySpec.model_validate(
        {"allowedSinks": ["/data/*"], "retention": {"maxDays": 30}, "requiredQualityGates": {}, **fields}
    )


def test_names_are_deterministic_unique_and_bounded() -> None:
    assert admission_name("team-a", "gov") == "dataops-policy.team-a.gov"
    assert admission_name("a-b", "c") != admission_name("a", "b-c")
    # (namespaces hold no dots, so "<namespace>.<name>" cannot be read two ways)
    long = admission_name("n" * 63, "p" * 250)
    assert len(long) <= MAX_NAME_LENGTH and long == admission_name("n" * 63, "p" * 250)
    assert long != admission_name("n" * 63, "p" * 249 + "q")
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", long)


def test_compiled_objects() -> None:
    objects = compile_admission(
        "team-a", "gov", _spec(pipelineSelector={"matchLabels": {"team": "sales"}}), labels={"x": "y"}
    )
    assert objects is not None
    policy, binding = objects.policy, objects.binding
    assert policy["metadata"]["name"] == binding["metadata"]["name"] == binding["spec"]["policyName"]
    assert policy["metadata"]["labels"]["x"] == "y"
    assert policy["metadata"]["labels"]["dataops.dev/policy-namespace"] == "team-a"
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    assert rules == [
        {
            "apiGroups": ["dataops.dev"],
            "apiVersions": ["v1alpha1"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["datapipelines"],
        }
    ]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert binding["spec"]["matchResources"] == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}},
        "objectSelector": {"matchLabels": {"team": "sales"}},
    }
    (validation,) = policy["spec"]["validations"]
    assert "DataPolicy team-a/gov" in validation["messageExpression"]
    names = [v["name"] for v in policy["spec"]["variables"]]
    assert {"sinkViolations", "retentionViolations", "gateViolations", "violations"} <= set(names)


def test_audit_warns_and_records() -> None:
    objects = compile_admission("ns", "p", _spec(enforcement=Enforcement.AUDIT))
    assert objects is not None and objects.binding["spec"]["validationActions"] == ["Warn", "Audit"]


def test_only_the_rules_a_policy_has() -> None:
    assert compile_admission("ns", "p", DataPolicySpec.model_validate({"piiColumns": []})) is None
    objects = compile_admission("ns", "p", DataPolicySpec.model_validate({"retention": {"maxDays": 5}}))
    assert objects is not None
    assert [v["name"] for v in objects.policy["spec"]["variables"]] == ["retentionViolations", "violations"]


def test_object_selector_leaves_out_empty_parts() -> None:
    selector = DataPolicySpec.model_validate(
        {"pipelineSelector": {"matchExpressions": [{"key": "pii", "operator": "Exists"}]}}
    ).pipeline_selector
    assert object_selector(selector) == {"matchExpressions": [{"key": "pii", "operator": "Exists"}]}
    assert object_selector(DataPolicySpec().pipeline_selector) == {}


def test_many_long_patterns_are_shared_out_under_the_expression_size_limit() -> None:
    patterns = [f"/data/{i}/" + "[.]" * 600 + "*" for i in range(64)]
    objects = compile_admission("ns", "p", _spec(allowedSinks=patterns))
    assert objects is not None
    variables = objects.policy["spec"]["variables"]
    chunks = [v for v in variables if v["name"].startswith("allowed")]
    assert len(chunks) > 1
    assert all(len(v["expression"]) <= MAX_EXPRESSION_SIZE + 10_000 for v in variables)
    assert sum(v["expression"].count("n.matches(") for v in chunks) == 64


def test_patterns_without_wildcards_compare_equal_and_prefixes_go_first() -> None:
    patterns = ["/exact/x", "/pre/*.csv", "*x", "/dir/*", "/dirs/**"]
    objects = compile_admission("ns", "p", _spec(allowedSinks=patterns))
    assert objects is not None
    allowed = next(v for v in objects.policy["spec"]["variables"] if v["name"] == "allowed0")["expression"]
    assert "n == '/exact/x'" in allowed
    assert "n.startsWith('/pre/') && n.matches(" in allowed
    assert "n.matches('(?s)^.*x$')" in allowed
    # a trailing * (any characters, '/' included) alone needs no regex
    assert "n.startsWith('/dir/') ||" in allowed and "n.startsWith('/dirs/')" in allowed
    assert allowed.count("n.matches(") == 2


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("plain", "'plain'"),
        ("it's", "'it\\'s'"),
        ("a\\b", "'a\\\\b'"),
        ("é\n", "'\\u00e9\\u000a'"),
        ("😀", "'\\U0001f600'"),
    ],
)
def test_cel_string(value: str, literal: str) -> None:
    assert cel_string(value) == literal


def test_compiled_objects_are_json() -> None:
    objects = compile_admission("ns", "p", _spec(allowedSinks=["/a/'b'\\c/*"]))
    assert objects is not None
    json.dumps(objects.policy)


def test_admission_condition_reasons() -> None:
    assert admission_condition(name="x", enforcement=Enforcement.ENFORCE).reason == "AdmissionEnforced"
    assert admission_condition(name="x", enforcement=Enforcement.AUDIT).reason == "AdmissionAudited"
    assert admission_condition(name=None, enforcement=Enforcement.ENFORCE).reason == "NoAdmissionRules"
    failed = admission_condition(name="x", enforcement=Enforcement.ENFORCE, error="403 Forbidden")
    assert failed.status == "False" and failed.reason == "ApplyFailed" and "403" in failed.message
    warned = admission_condition(name="x", enforcement=Enforcement.ENFORCE, type_warnings=["f: no such key"])
    assert warned.status == "False" and "no such key" in warned.message
