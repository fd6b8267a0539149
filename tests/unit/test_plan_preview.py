"""`dataops plan`: admission verdicts, run plan, masking per sink column and children, offline."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataops.cli import main
from tests.conftest import ROOT

PIPELINE: dict[str, Any] = {
    "apiVersion": "dataops.dev/v1alpha1",
    "kind": "DataPipeline",
    "metadata": {"name": "contacts", "namespace": "crm", "labels": {"team": "crm"}},
    "spec": {
        "sources": [
            {
                "name": "users",
                "file": {
                    "path": "/lake/raw/users.csv",
                    "format": "csv",
                    "schema": [
                        {"name": "id", "type": "int"},
                        {"name": "email", "type": "string"},
                        {"name": "country", "type": "string"},
                    ],
                },
            }
        ],
        "transforms": [
            {"name": "contacts", "sql": "SELECT id, upper(email) AS contact, country FROM users"},
            {"name": "per_country", "sql": "SELECT country, count(*) AS n FROM contacts GROUP BY country"},
        ],
        "sinks": [
            {"name": "contacts", "from": "contacts", "path": "/lake/curated/contacts"},
            {"name": "counts", "from": "per_country", "path": "/lake/curated/counts"},
        ],
    },
}
POLICY: dict[str, Any] = {
    "apiVersion": "dataops.dev/v1alpha1",
    "kind": "DataPolicy",
    "metadata": {"name": "crm-pii", "namespace": "crm"},
    "spec": {
        "pipelineSelector": {"matchLabels": {"team": "crm"}},
        "enforcement": "Enforce",
        "allowedSinks": ["/lake/curated/*"],
        "piiColumns": [{"column": "email", "classification": "email", "masking": "redact"}],
    },
}


def _write(tmp: Path, *docs: dict[str, Any]) -> Path:
    path = tmp / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def test_masking_follows_the_sql_and_the_verdict_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "-f", str(_write(tmp_path, PIPELINE, POLICY))]) == 0
    out = capsys.readouterr().out
    assert "DataPipeline crm/contacts (Batch), plan " in out
    assert "admission: DataPolicy crm-pii (Enforce): allowed" in out
    assert "masking: contacts.contact: redact by DataPolicy 'crm-pii'" in out
    assert "derived from users.email" in out
    assert "masking: sink counts: no classified column" in out
    assert "applies ConfigMap contacts-plan" in out


def test_a_sink_outside_the_policy_is_denied_under_enforce_and_warned_under_audit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline = copy.deepcopy(PIPELINE)
    pipeline["spec"]["sinks"][1]["path"] = "/lake/curated/../raw/counts"
    assert main(["plan", "-f", str(_write(tmp_path, pipeline, POLICY))]) == 1
    out = capsys.readouterr().out
    assert "admission: DataPolicy crm-pii (Enforce): DENIED: " in out
    assert "sink 'counts' writes to '/lake/curated/../raw/counts' (normalised '/lake/raw/counts')" in out
    assert "1 denied" in out

    audit = copy.deepcopy(POLICY)
    audit["spec"]["enforcement"] = "Audit"
    assert main(["plan", "-f", str(_write(tmp_path, pipeline, audit))]) == 0
    assert "(Audit): allowed with warnings (Audit): " in capsys.readouterr().out


def test_without_a_selecting_policy_and_without_schemas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = copy.deepcopy(POLICY)
    other["spec"]["pipelineSelector"] = {"matchLabels": {"team": "sales"}}
    assert main(["plan", "-f", str(_write(tmp_path, PIPELINE, other))]) == 0
    assert "admission: no DataPolicy among the manifests selects it" in capsys.readouterr().out

    schemaless = copy.deepcopy(PIPELINE)
    del schemaless["spec"]["sources"][0]["file"]["schema"]
    assert main(["plan", "-f", str(_write(tmp_path, schemaless, POLICY))]) == 0
    assert "masking: sink contacts: declare the sources' schemas" in capsys.readouterr().out


def test_yaml_output_has_the_children_with_their_owner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "-o", "yaml", "-f", str(_write(tmp_path, PIPELINE, POLICY))]) == 0
    out = capsys.readouterr().out
    docs = [d for d in yaml.safe_load_all(out[out.index("apiVersion") :].split("\n\n")[0]) if d]
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"]
    for doc in docs:
        (owner,) = doc["metadata"]["ownerReferences"]
        assert owner["kind"] == "DataPipeline" and owner["name"] == "contacts" and owner["controller"] is True


def test_invalid_manifests_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = copy.deepcopy(PIPELINE)
    broken["spec"]["sinks"][0]["mode"] = "merge"
    assert main(["plan", "-f", str(_write(tmp_path, broken))]) == 1
    assert "spec.sinks[0].mergeKeys" in capsys.readouterr().err


def test_the_examples_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "-f", str(ROOT / "examples" / "ecommerce")]) == 0
    out = capsys.readouterr().out
    assert "masking: customer_features.email: hash by DataPolicy 'shop-customer-pii'" in out
    assert "step recommendations: model (reads interactions)" in out
