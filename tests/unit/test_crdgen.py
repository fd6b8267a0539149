"""The CRDs are generated from the models, structural, and committed up to date."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from dataops.api.crdgen import KINDS, build_crd, drifted_crds, render_crds
from tests.conftest import ROOT


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        out.append((path, node))
        for key in ("properties",):
            for name, sub in (node.get(key) or {}).items():
                out.extend(_walk(sub, f"{path}.{name}"))
        if isinstance(node.get("items"), dict):
            out.extend(_walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            out.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return out


def test_committed_crds_match_the_models() -> None:
    assert drifted_crds(ROOT / "crds") == []


@pytest.mark.parametrize("info", KINDS, ids=[k.kind for k in KINDS])
def test_schema_is_structural(info: Any) -> None:
    schema = build_crd(info)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "anyOf" not in node and "allOf" not in node, path
        assert "title" not in node, path
        typed = (
            "type" in node
            or node.get("x-kubernetes-int-or-string")
            or node.get("x-kubernetes-preserve-unknown-fields")
        )
        assert typed, f"{path} has no type"
        free_form = node.get("x-kubernetes-preserve-unknown-fields")  # a JSON document kept as written
        if node.get("type") == "object" and path not in ("", ".metadata") and not free_form:
            assert "properties" in node or "additionalProperties" in node, path


def test_names_columns_and_subresources() -> None:
    crds = {c["spec"]["names"]["kind"]: c for c in map(yaml.safe_load, render_crds().values())}
    assert set(crds) == {"DataPipeline", "DataQualitySuite", "DataPolicy"}
    assert crds["DataPipeline"]["spec"]["names"]["shortNames"] == ["dp"]
    assert crds["DataQualitySuite"]["spec"]["names"]["shortNames"] == ["dqs"]
    assert crds["DataPolicy"]["spec"]["names"]["shortNames"] == ["dpol"]
    for crd in crds.values():
        assert crd["spec"]["names"]["categories"] == ["dataops"]
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        names = [c["name"] for c in version["additionalPrinterColumns"]]
        assert names[0] == "Ready" and names[-1] == "Age"
    pipeline_columns = [
        c["name"] for c in crds["DataPipeline"]["spec"]["versions"][0]["additionalPrinterColumns"]
    ]
    assert {"Ready", "Phase", "Last Run", "Age"} <= set(pipeline_columns)


def test_cel_rules_defaults_enums_and_bounds_are_emitted() -> None:
    crd = yaml.safe_load(render_crds()["dataops.dev_datapipelines.yaml"])
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert any("sinks.all" in r["rule"] for r in spec["x-kubernetes-validations"])
    sink = spec["properties"]["sinks"]["items"]
    assert sink["properties"]["mode"]["enum"] == ["append", "overwrite", "merge"]
    assert sink["properties"]["mode"]["default"] == "append"
    assert any(r.get("fieldPath") == ".mergeKeys" for r in sink["x-kubernetes-validations"])
    assert spec["properties"]["sources"]["x-kubernetes-list-type"] == "map"
    assert spec["properties"]["sources"]["maxItems"] == 32
    kafka = spec["properties"]["sources"]["items"]["properties"]["kafka"]["properties"]
    assert kafka["partitions"]["minimum"] == 1 and kafka["partitions"]["maximum"] == 10000
    assert "description" in spec


def test_every_expectation_type_is_in_the_enum() -> None:
    from dataops.api.v1alpha1.expectations import EXPECTATIONS

    crd = yaml.safe_load(render_crds()["dataops.dev_dataqualitysuites.yaml"])
    item = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "expectations"
    ]["items"]
    assert item["properties"]["type"]["enum"] == list(EXPECTATIONS)
    assert len(EXPECTATIONS) >= 25
    assert item["properties"]["valueSet"]["items"] == {"x-kubernetes-preserve-unknown-fields": True}
