"""DataPolicy.spec.access compiled into Roles and RoleBindings (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dataops.api.v1alpha1.datapolicy import AccessRule, DataPolicySpec
from dataops.api.validation import validate_document
from dataops.policy.access import POLICY_LABEL, desired_access, stale_access

UID = "uid-1"


def _access(**rule: Any) -> AccessRule:
    return AccessRule.model_validate(rule)


def _by_name(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def test_readers_and_writers() -> None:
    access = _access(
        readers=[{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "analysts"}],
        writers=[
            {"kind": "ServiceAccount", "name": "bot"},
            {"kind": "ServiceAccount", "name": "ci", "namespace": "ci"},
        ],
    )
    out = _by_name(
        desired_access(
            policy="pol", namespace="ns", uid=UID, access=access, pipelines=["p2", "p1", "p1"], suites=["s"]
        )
    )
    assert set(out) == {
        ("Role", "pol-readers"),
        ("RoleBinding", "pol-readers"),
        ("Role", "pol-writers"),
        ("RoleBinding", "pol-writers"),
    }
    readers = out[("Role", "pol-readers")]["rules"]
    assert readers[0] == {
        "apiGroups": ["dataops.dev"],
        "resources": ["datapipelines"],
        "resourceNames": ["p1", "p2"],
        "verbs": ["get", "list", "watch"],
    }
    assert readers[1]["resourceNames"] == ["s"] and readers[1]["verbs"] == ["get", "list", "watch"]
    assert readers[2]["resources"] == ["events"] and "resourceNames" not in readers[2]
    writers = out[("Role", "pol-writers")]["rules"]
    assert writers[0]["verbs"] == ["get", "list", "watch", "patch"]
    assert writers[1]["verbs"] == ["get", "list", "watch"]  # suites are read only
    for rules in (readers, writers):
        for rule in rules:
            assert not {"create", "delete", "update", "*", "escalate", "bind"} & set(rule["verbs"])
            assert "secrets" not in rule["resources"]
    subjects = out[("RoleBinding", "pol-writers")]["subjects"]
    assert {"kind": "ServiceAccount", "name": "bot", "namespace": "ns"} in subjects
    assert {"kind": "ServiceAccount", "name": "ci", "namespace": "ci"} in subjects
    reader_subjects = out[("RoleBinding", "pol-readers")]["subjects"]
    assert {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "alice"} in reader_subjects
    for m in out.values():
        ref = m["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "DataPolicy" and ref["uid"] == UID and ref["controller"] is True
        assert m["metadata"]["labels"][POLICY_LABEL] == "pol"
        assert m["metadata"]["namespace"] == "ns"


def test_no_selected_pipelines_grants_no_pipeline_at_all() -> None:
    """An empty resourceNames means every object: such rules are left out, never emitted empty."""
    access = _access(readers=[{"kind": "User", "name": "alice"}], writers=[{"kind": "User", "name": "w"}])
    for m in desired_access(policy="p", namespace="n", uid=UID, access=access, pipelines=[], suites=[]):
        for rule in m.get("rules", []):
            assert rule.get("resourceNames") != []
            assert "datapipelines" not in rule["resources"] and "dataqualitysuites" not in rule["resources"]


def test_no_access_no_subjects_nothing() -> None:
    assert desired_access(policy="p", namespace="n", uid=UID, access=None, pipelines=["a"], suites=[]) == []
    assert (
        desired_access(policy="p", namespace="n", uid=UID, access=_access(), pipelines=["a"], suites=[]) == []
    )
    only_writers = desired_access(
        policy="p",
        namespace="n",
        uid=UID,
        access=_access(writers=[{"kind": "User", "name": "w"}]),
        pipelines=["a"],
        suites=[],
    )
    assert {m["metadata"]["name"] for m in only_writers} == {"p-writers"}


def test_duplicate_subjects_collapse() -> None:
    access = _access(
        readers=[{"kind": "User", "name": "a"}, {"kind": "User", "name": "a"}, {"kind": "Group", "name": "a"}]
    )
    binding = next(
        m
        for m in desired_access(policy="p", namespace="n", uid=UID, access=access, pipelines=["x"], suites=[])
        if m["kind"] == "RoleBinding"
    )
    assert len(binding["subjects"]) == 2


def test_stale_objects_are_only_our_own() -> None:
    def obj(kind: str, name: str, uid: str) -> dict[str, Any]:
        return {
            "kind": kind,
            "metadata": {"name": name, "ownerReferences": [{"uid": uid, "controller": True}]},
        }

    live = [
        obj("Role", "p-readers", UID),
        obj("Role", "p-writers", UID),
        obj("Role", "p-other", "someone-else"),
    ]
    desired = [obj("Role", "p-readers", UID)]
    assert stale_access(live, desired, UID) == [("Role", "p-writers")]
    assert stale_access(live, [], UID) == [("Role", "p-readers"), ("Role", "p-writers")]


@pytest.mark.parametrize(
    "subject",
    [
        {"kind": "User", "name": "alice", "namespace": "x"},  # namespace only for ServiceAccounts
        {"kind": "ServiceAccount", "name": "Bot"},
        {"kind": "ServiceAccount", "name": "bot", "namespace": "Bad_NS"},
        {"kind": "Robot", "name": "r"},
        {"kind": "User", "name": ""},
    ],
)
def test_bad_subjects_are_rejected_with_the_field(subject: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DataPolicySpec.model_validate({"access": {"readers": [subject]}})
    doc = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "p"},
        "spec": {"access": {"readers": [subject]}},
    }
    errors = validate_document(doc)
    assert errors and all("spec.access.readers[0]" in str(e) for e in errors)
