"""The API server (the compiled ValidatingAdmissionPolicy, CEL) and the operator's offline evaluation
(dataops.policy.evaluate) give the same verdict, naming the same fields in the same order, on
generated pipelines: write locations (sinks, quarantinePath, model paths, stagingPath,
checkpointLocation) with `..`, `.`, `//`, trailing slashes, schemes and glob specials; Batch and
Streaming pipelines, JDBC sinks and retention."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.devcluster.controlplane import ControlPlane
from dataops.kube.client import DATA_PIPELINE, DATA_POLICY, KubeClient, KubeError
from dataops.policy.evaluate import violations
from dataops.policy.locations import MAX_SEGMENTS, normalize_location
from dataops.policy.writes import write_locations
from dataops.reconcile.policy import reconcile_policy
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.cluster

POLICIES: dict[str, dict[str, Any]] = {
    "a": {
        "allowedSinks": ["/lake/*", "s3a://bucket/data/*", "jdbc:postgresql://db:5432/sales#*"],
        "retention": {"maxDays": 30},
        "requiredQualityGates": {"minGates": 1},
    },
    "b": {
        "allowedSinks": [
            "/lake/sales/[a-c]*/part-?",
            "/tmp/x[!0-9]/*",
            "file:///srv/exports/*.csv",
            "gs://b/p[*]q",
            "/lake/sales",
            "[]-]x/*",
            "/lake/it's/\\é*",  # quotes, backslashes and non-ASCII survive the CEL string literals
        ],
        "requiredQualityGates": {"minGates": 2, "blocking": False},
    },
    "c": {"allowedSinks": ["*"], "retention": {"maxDays": 365}},
}

SEGMENTS = [
    "lake", "sales", "a1", "b2", "c", "part-1", "part-x", "..", "..", ".", "", "x1", "xy", "*", "[", "]",
    "?", "data", "bucket", "exports", "f.csv", "é", "a b", "-", "p*q", "srv", "#t", "it's", "\\é\\",
]  # fmt: skip
PREFIXES = ["", "/", "/", "s3a://bucket", "s3a://bucket/", "file:///srv/", "gs://b/", "//", "tmp/"]
NEAR_ALLOWED = [
    "/lake/",
    "/lake/sales/",
    "/lake/sales/b2/",
    "s3a://bucket/data/",
    "file:///srv/exports/",
    "/tmp/xa/",
]
RAW = {"name": "raw", "file": {"path": "/in"}}
ALS = {"userColumn": "u", "itemColumn": "i"}
ALWAYS_REFUSED = {
    "sources": [RAW],
    "sinks": [{"name": "o", "from": "raw", "path": "/.."}],
}
JDBC_URLS = ["jdbc:postgresql://db:5432/sales", "jdbc:postgresql://db:5432/hr", "jdbc:mysql://db/../sales"]


@st.composite
def paths(draw: st.DrawFn) -> str:
    # now and then around MAX_SEGMENTS, where locations with '..' stop being resolved
    few = st.lists(st.sampled_from(SEGMENTS), max_size=7)
    many = st.lists(st.sampled_from(SEGMENTS), min_size=MAX_SEGMENTS - 6, max_size=MAX_SEGMENTS + 4)
    segments = draw(st.one_of(few, few, few, many))
    prefix = draw(st.sampled_from(PREFIXES + NEAR_ALLOWED * 2))
    path = prefix + "/".join(segments) + draw(st.sampled_from(["", "", "", "/", "//"]))
    return path or "/"


@st.composite
def sinks(draw: st.DrawFn, index: int, *, streaming: bool) -> dict[str, Any]:
    sink: dict[str, Any] = {"name": f"out{index}", "from": "raw"}
    if draw(st.integers(0, 5)) == 0:
        table = "/".join(draw(st.lists(st.sampled_from(["t", "..", "", "s.t"]), min_size=1, max_size=3)))
        sink |= {"format": "jdbc", "jdbc": {"url": draw(st.sampled_from(JDBC_URLS)), "table": table or "t"}}
    else:
        sink["path"] = draw(paths())
    days = draw(st.one_of(st.none(), st.integers(1, 30), st.integers(1, 30), st.integers(1, 400)))
    # retention is enforced on Delta (or partitioned) sinks of Batch pipelines only
    if days is not None and "path" in sink and not streaming:
        sink |= {"format": "delta", "retentionDays": days, "retentionColumn": "ts"}
    return sink


def optional_path(draw: st.DrawFn) -> str | None:
    return draw(st.one_of(st.none(), paths()))


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Batch or Streaming pipelines writing to sinks and, now and then, to every other write location:
    a source's quarantinePath, model steps' path, stagingPath, the streaming checkpointLocation."""
    policy = draw(st.sampled_from(sorted(POLICIES)))
    streaming = draw(st.integers(0, 2)) == 0
    count = draw(st.integers(1, 3))
    gates = draw(
        st.lists(
            st.sampled_from(["block", "block", "warn", None]), min_size=draw(st.integers(0, 2)), max_size=3
        )
    )
    first: dict[str, Any] = {"name": "raw", "kafka": {"topic": "t"}} if streaming else RAW
    sources = [first]
    quarantine = optional_path(draw)
    if quarantine is not None:
        file = {"path": "/in.csv", "format": "csv", "onMalformed": "Quarantine", "quarantinePath": quarantine}
        sources.append({"name": "malformed", "file": file})
    spec: dict[str, Any] = {
        "suspend": True,
        "sources": sources,
        "qualityGates": [{"suiteRef": {"name": "s"}, **({"action": a} if a else {})} for a in gates],
        "sinks": [draw(sinks(i, streaming=streaming)) for i in range(count)],
    }
    if streaming:
        spec["mode"] = "Streaming"
        checkpoint = draw(st.one_of(st.none(), st.just(""), paths(), paths()))
        if checkpoint is not None:
            spec["streaming"] = {"checkpointLocation": checkpoint}
    else:
        models = [p for p in (optional_path(draw), optional_path(draw)) if p is not None]
        steps = [{"name": "clean", "sql": "SELECT * FROM raw"}] if draw(st.booleans()) else []
        steps += [
            {"name": f"model{k}", "model": {"input": "raw", "path": path, "als": ALS}}
            for k, path in enumerate(models)
        ]
        if steps:
            spec["transforms"] = steps
    staging = draw(st.one_of(st.none(), st.just(""), paths()))
    if staging is not None:
        spec["stagingPath"] = staging
    return policy, spec


@pytest.fixture(scope="module")
def policy_namespace(control_plane: ControlPlane, kube: KubeClient) -> Iterator[str]:
    """One DataPolicy per entry of POLICIES, each selecting pipelines labelled policy=<key>; reconciled
    here (no operator watches d-* namespaces)."""
    namespace = f"d-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", namespace)
    for key, spec in POLICIES.items():
        doc = {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPolicy",
            "metadata": {"name": f"policy-{key}", "namespace": namespace},
            "spec": {"pipelineSelector": {"matchLabels": {"policy": key}}, **spec},
        }
        control_plane.kubectl("apply", "-f", "-", input=json.dumps(doc))
        reconcile_policy(kube, kube.get(DATA_POLICY, namespace, f"policy-{key}") or {})
    for key in POLICIES:  # every admission policy is live before the comparison starts
        wait_for(lambda k=key: server_verdict(kube, namespace, k, ALWAYS_REFUSED)[0], timeout=30, what=key)
    yield namespace
    control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


_FIELD = re.compile(
    r"(?:^|; )(spec\.(?:sinks\[\d+\]\.(?:path|jdbc|retentionDays)|qualityGates"
    r"|sources\[\d+\]\.file\.quarantinePath|transforms\[\d+\]\.model\.path|stagingPath"
    r"|streaming\.checkpointLocation))"
)


def server_verdict(
    kube: KubeClient, namespace: str, policy: str, spec: dict[str, Any]
) -> tuple[list[str], str]:
    """The fields the API server's refusal names (in order) and its message; ([], "") when it accepts
    (a dry run: nothing is stored)."""
    doc = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "candidate", "namespace": namespace, "labels": {"policy": policy}},
        "spec": spec,
    }
    try:
        kube.request("POST", DATA_PIPELINE.path(namespace), query={"dryRun": "All"}, body=doc)
    except KubeError as exc:
        marker = f"DataPolicy {namespace}/policy-{policy}: "
        assert marker in exc.message, exc.message  # refused by the admission policy, nothing else
        message = exc.message.split(marker, 1)[1]
        return _FIELD.findall(message), message
    return [], ""


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=pipelines())
@example(case=("b", {**ALWAYS_REFUSED, "qualityGates": [{"suiteRef": {"name": "s"}}] * 2, "sinks": [
    {"name": "o", "from": "raw", "path": "/lake/it's/\\é\\x"},
    {"name": "p", "from": "raw", "path": "/lake/it's/x"},
]}))  # fmt: skip
def test_offline_and_api_server_agree(
    case: tuple[str, dict[str, Any]], kube: KubeClient, policy_namespace: str
) -> None:
    policy, spec = case
    expected = violations(
        DataPolicySpec.model_validate(POLICIES[policy]), DataPipelineSpec.model_validate(spec)
    )
    got, message = server_verdict(kube, policy_namespace, policy, spec)
    event(f"refused: {bool(got)}")
    for field in got:
        event(f"names {re.sub(r'[0-9]+', 'i', field)}")
    assert got == [v.field for v in expected], (spec, message, [v.message for v in expected])
    writes = {w.field: w.location for w in write_locations(DataPipelineSpec.model_validate(spec))}
    for violation in expected:
        if violation.field in writes:
            location = writes[violation.field]
            normal = normalize_location(location)
            if normal.text is None:
                assert normal.problem is not None and normal.problem in message
            elif normal.text != location:
                assert f"(normalised '{normal.text}')" in message
