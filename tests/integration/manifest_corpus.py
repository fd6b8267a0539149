"""A seeded, deterministic corpus of valid and invalid manifests for the offline/online differential test.

Every case is YAML text (not a dict), so YAML 1.1 scalars (``yes``, ``Y``, ``off``) can be written raw,
exactly as a user or Helm would. Cases come from systematic mutation of the examples/ manifests:
each leaf gets values of the wrong type (numbers and booleans as strings and the reverse), nulls,
out-of-range numbers, bad enum values and raw YAML 1.1 booleans; each object gets an unknown field,
and each schema property the example leaves out is added with a value of the wrong type and, where
the schema allows it, a plausible valid one. Names, CEL rules and list-map keys get their own cases.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dataops.api.crdgen import KINDS, openapi_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = {
    "DataQualitySuite": "01-quality-suite.yaml",
    "DataPolicy": "02-policy.yaml",
    "DataPipeline": "03-orders-pipeline.yaml",
}
YAML11_BOOLEANS = ("yes", "No", "ON", "off", "y", "N", "Y", "n", "True", "FALSE")
NOT_BOOLEANS = ("yEs", "oN", "Off ", "nO")  # kept as strings by kubectl ("Off " is quoted by the dump)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Case:
    id: str
    text: str


class _Raw:
    """A value written into the YAML text as is (unquoted)."""

    counter = 0

    def __init__(self, text: str) -> None:
        _Raw.counter += 1
        self.text = text
        self.token = f"RAWTOKEN{_Raw.counter}X"


def _dump(doc: dict[str, Any]) -> str:
    raws: list[_Raw] = []

    def replace(node: Any) -> Any:
        if isinstance(node, _Raw):
            raws.append(node)
            return node.token
        if isinstance(node, dict):
            return {k: replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v) for v in node]
        return node

    text = yaml.safe_dump(replace(doc), sort_keys=False, width=1000)
    for raw in raws:
        text = text.replace(raw.token, raw.text)
    return text


def _get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _with(doc: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    parent = _get(out, path[:-1])
    parent[path[-1]] = value
    return out


def _without(doc: dict[str, Any], path: Path_) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    del _get(out, path[:-1])[path[-1]]
    return out


def _schema_at(schema: dict[str, Any], path: Path_) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in path:
        if node is None:
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            props = node.get("properties")
            node = props.get(part) if props is not None else node.get("additionalProperties")
    return node


def _label(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _leaves(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        yield path, node
        for index, value in enumerate(node):
            yield from _leaves(value, (*path, index))
    else:
        yield path, node


def _wrong_values(value: Any, schema: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, replacement) pairs for a leaf, by its schema type."""
    kind = schema.get("type")
    out: list[tuple[str, Any]] = [("null", None)]
    if schema.get("x-kubernetes-int-or-string"):
        return [*out, ("bool", True), ("float", 2.5), ("float-integral", 2.0)]
    if kind == "integer":
        out += [
            ("string-number", str(value)),
            ("float", float(value) + 0.5),
            ("float-integral", float(value)),
        ]
        out += [("bool", True), ("raw-yes", _Raw("yes")), ("string-word", "three")]
        if "maximum" in schema:
            out.append(("above-maximum", schema["maximum"] + 1))
        if "minimum" in schema:
            out.append(("below-minimum", schema["minimum"] - 1))
        out.append(("raw-hex", _Raw("0x1")))
        out.append(("raw-exponent", _Raw("1e1")))
    elif kind == "number":
        out += [("string-number", str(value)), ("bool", False), ("raw-off", _Raw("off")), ("int", 1)]
        if "maximum" in schema:
            out.append(("above-maximum", schema["maximum"] + 0.5))
        if "minimum" in schema:
            out.append(("below-minimum", schema["minimum"] - 0.5))
    elif kind == "boolean":
        out += [("string-true", "true"), ("int", 1)]
        out += [(f"raw-{b}", _Raw(b)) for b in YAML11_BOOLEANS]
        out += [(f"raw-notbool-{b.strip()}", b) for b in NOT_BOOLEANS]
    elif kind == "string":
        out += [("int", 5), ("bool", True), ("raw-y", _Raw("y")), ("raw-on", _Raw("on")), ("list", [value])]
        out += [("raw-date", _Raw("2026-01-01")), ("raw-notbool", _Raw("yEs"))]
        if "enum" in schema:
            out += [("bad-enum", "bogus"), ("enum-case", str(value).upper())]
        if "pattern" in schema:
            out.append(("pattern", "Not Valid!"))
        if "maxLength" in schema:
            out.append(("too-long", "a" * (schema["maxLength"] + 1)))
        if schema.get("minLength"):
            out.append(("empty", ""))
    elif kind == "array":
        out += [("empty", []), ("null-item", [None]), ("scalar", "x")]
    elif kind == "object":
        out += [("scalar", 5), ("list", [])]
    return out


def _valid_value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][-1]
    if kind == "integer":
        return schema.get("minimum", 1) if not schema.get("exclusiveMinimum") else schema["minimum"] + 1
    if kind == "boolean":
        return _Raw("on")
    return None


def _wrong_type_value(schema: dict[str, Any]) -> Any:
    return {"integer": "7", "number": "0.5", "boolean": "true", "string": 7, "array": "x", "object": 7}.get(
        str(schema.get("type")), 7
    )


def _mutations(kind: str, doc: dict[str, Any], schema: dict[str, Any]) -> Iterator[Case]:
    prefix = kind.lower()
    yield Case(f"{prefix}/valid", _dump(doc))
    for path, value in _leaves(doc):
        if not path or path[0] in ("apiVersion", "kind", "metadata"):
            continue
        node_schema = _schema_at(schema, path)
        if node_schema is None:
            continue
        label = _label(path)
        if isinstance(value, dict) and node_schema.get("properties"):
            yield Case(f"{prefix}/{label}/unknown-field", _dump(_with(doc, (*path, "bogusField"), 1)))
            yield Case(f"{prefix}/{label}/unknown-field-null", _dump(_with(doc, (*path, "bogusField"), None)))
            yield Case(f"{prefix}/{label}/snake-case", _dump(_with(doc, (*path, "some_field"), "x")))
            for prop, prop_schema in node_schema["properties"].items():
                if prop in value:
                    continue
                yield Case(
                    f"{prefix}/{label}.{prop}/added-wrong-type",
                    _dump(_with(doc, (*path, prop), _wrong_type_value(prop_schema))),
                )
                yield Case(f"{prefix}/{label}.{prop}/added-null", _dump(_with(doc, (*path, prop), None)))
                valid = _valid_value(prop_schema)
                if valid is not None:
                    yield Case(
                        f"{prefix}/{label}.{prop}/added-valid", _dump(_with(doc, (*path, prop), valid))
                    )
        if isinstance(path[-1], str) and isinstance(_get(doc, path[:-1]), dict):
            yield Case(f"{prefix}/{label}/removed", _dump(_without(doc, path)))
        for name, replacement in _wrong_values(value, node_schema):
            yield Case(f"{prefix}/{label}/{name}", _dump(_with(doc, path, replacement)))


NAMES = {
    "uppercase": "Orders",
    "underscore": "bad_name",
    "digit-first": "9orders",
    "dash-last": "orders-",
    "dot": "orders.v2",
    "too-long-cel": "a" * 41,
    "too-long-dns": "a" * 254,
    "max-ok": "a" * 40,
    "int": 7,
    "raw-yes": _Raw("yes"),
    "raw-n": _Raw("n"),
    "empty": "",
    "null": None,
    "double-dash": "a--b",
}

LABELS = {"raw-on": _Raw("on"), "int": 5, "null": None, "ok": "sales", "bad-key": {"bad key": "x"}}


def _metadata_cases(kind: str, doc: dict[str, Any]) -> Iterator[Case]:
    prefix = kind.lower()
    for label, name in NAMES.items():
        yield Case(f"{prefix}/metadata.name/{label}", _dump(_with(doc, ("metadata", "name"), name)))
    for label, value in LABELS.items():
        if label == "bad-key":
            yield Case(f"{prefix}/metadata.labels/{label}", _dump(_with(doc, ("metadata", "labels"), value)))
            continue
        yield Case(
            f"{prefix}/metadata.labels/{label}", _dump(_with(doc, ("metadata", "labels"), {"team": value}))
        )
    yield Case(f"{prefix}/metadata/unknown", _dump(_with(doc, ("metadata", "bogus"), "x")))
    yield Case(f"{prefix}/metadata/annotations-null", _dump(_with(doc, ("metadata", "annotations"), None)))
    yield Case(f"{prefix}/root/unknown", _dump(_with(doc, ("bogus",), 1)))
    yield Case(f"{prefix}/spec/null", _dump(_with(doc, ("spec",), None)))
    yield Case(f"{prefix}/status/ignored", _dump(_with(doc, ("status",), {"phase": "Bogus"})))
    yield Case(f"{prefix}/status/unknown", _dump(_with(doc, ("status",), {"bogus": 1})))


def _pipeline_rule_cases(doc: dict[str, Any]) -> Iterator[Case]:
    spec = ("spec",)
    sink = ("spec", "sinks", 0)
    source = ("spec", "sources", 0)
    cases: dict[str, dict[str, Any]] = {
        "merge-without-keys": _with(doc, (*sink, "mode"), "merge"),
        "merge-with-keys": _with(_with(doc, (*sink, "mode"), "merge"), (*sink, "mergeKeys"), ["country"]),
        "merge-latest-by": _with(
            _with(_with(doc, (*sink, "mode"), "merge"), (*sink, "mergeKeys"), ["country"]),
            (*sink, "latestBy"),
            ["revenue", "orders"],
        ),
        "latest-by-without-merge": _with(doc, (*sink, "latestBy"), ["revenue"]),
        "malformed-drop-parquet": _with(doc, (*source, "file", "onMalformed"), "Drop"),
        "malformed-bogus": _with(doc, (*source, "file", "onMalformed"), "Ignore"),
        "malformed-quarantine-no-path": _with(
            _with(doc, (*source, "file", "format"), "csv"), (*source, "file", "onMalformed"), "Quarantine"
        ),
        "malformed-quarantine": _with(
            _with(
                _with(doc, (*source, "file", "format"), "json"),
                (*source, "file", "onMalformed"),
                "Quarantine",
            ),
            (*source, "file", "quarantinePath"),
            "/lake/bad",
        ),
        "quarantine-path-with-fail": _with(doc, (*source, "file", "quarantinePath"), "/lake/bad"),
        "reader-mode-option": _with(doc, (*source, "file", "options"), {"mode": "DROPMALFORMED"}),
        "latest-by-empty-without-merge": _with(doc, (*sink, "latestBy"), []),
        "jdbc-merge": _with(
            _with(
                _with(
                    _without(_with(doc, (*sink, "format"), "jdbc"), (*sink, "path")), (*sink, "mode"), "merge"
                ),
                (*sink, "mergeKeys"),
                ["country"],
            ),
            (*sink, "jdbc"),
            {"url": "jdbc:postgresql://db/x", "table": "t"},
        ),
        "jdbc-sink-with-path": _with(doc, (*sink, "format"), "jdbc"),
        "sink-from-nowhere": _with(doc, (*sink, "from"), "nowhere"),
        "two-source-kinds": _with(doc, (*source, "kafka"), {"topic": "orders"}),
        "no-source-kind": _without(doc, (*source, "file")),
        "transform-reuses-source": _with(doc, ("spec", "transforms", 0, "name"), "orders"),
        "gate-dataset-unknown": _with(doc, ("spec", "qualityGates", 0, "dataset"), "nowhere"),
        "streaming-no-kafka": _with(doc, (*spec, "mode"), "Streaming"),
        "streaming-settings-in-batch": _with(doc, (*spec, "streaming"), {"triggerIntervalSeconds": 5}),
        "backoff-above-cap": _with(doc, ("spec", "retry", "backoffSeconds"), 900),
        "backoff-above-default-cap": _with(doc, ("spec", "retry", "backoffSeconds"), 601),
        "min-executors-above-max": _with(
            doc, (*spec, "spark"), {"dynamicAllocation": {"minExecutors": 11, "maxExecutors": 10}}
        ),
        "min-executors-above-default-max": _with(
            doc, (*spec, "spark"), {"dynamicAllocation": {"minExecutors": 11}}
        ),
        "bad-cron": _with(doc, ("spec", "schedule", "cron"), "61 * * * *"),
        "lowercase-cron-month": _with(doc, ("spec", "schedule", "cron"), "0 0 1 jan *"),
        "cron-macro": _with(doc, ("spec", "schedule", "cron"), "@hourly"),
        "duplicate-source": _with(doc, ("spec", "sources", 1, "name"), "orders"),
        "duplicate-sink": _with(doc, ("spec", "sinks"), [_get(doc, sink), _get(doc, sink)]),
        "jdbc-source-both": _with(
            _without(doc, (*source, "file")),
            (*source, "jdbc"),
            {"url": "jdbc:postgresql://db/x", "table": "t", "query": "select 1"},
        ),
        "jdbc-source-one": _with(
            _without(doc, (*source, "file")),
            (*source, "jdbc"),
            {"url": "jdbc:postgresql://db/x", "table": "t"},
        ),
        "volume-duplicate": _with(
            doc,
            (*spec, "spark"),
            {"volumes": [{"name": "data", "claimName": "c", "mountPath": "/d"}] * 2},
        ),
    }
    cases.update(_model_step_cases(doc))
    merge = _with(doc, (*sink, "mode"), "merge")  # a CEL violation to combine with other errors
    combined = {
        "cel-plus-too-many-items": _with(merge, (*sink, "partitionBy"), [f"c{i}" for i in range(9)]),
        "cel-plus-too-short": _with(merge, ("spec", "qualityGates", 0, "dataset"), ""),
        "cel-plus-pattern": _with(merge, (*source, "name"), "Bad Name"),
        "cel-plus-range": _with(merge, ("spec", "retry", "maxRetries"), 99),
        "cel-plus-type": _with(merge, ("spec", "retry", "maxRetries"), "3"),
        "cel-plus-enum": _with(merge, ("spec", "spark"), {"backend": "Magic"}),
        "cel-plus-missing": _without(merge, ("spec", "transforms", 0, "sql")),
        "cel-plus-duplicate": _with(merge, ("spec", "sources", 1, "name"), "orders"),
        "two-cel-rules": _with(merge, ("spec", "transforms", 0, "name"), "orders"),
    }
    for label, mutated in {**cases, **combined}.items():
        yield Case(f"datapipeline/rule/{label}", _dump(mutated))


def _model_step_cases(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A model step (issue 15) appended to the example's transforms, valid and broken."""
    als = {"userColumn": "customer_id", "itemColumn": "order_id", "ratingColumn": "amount"}
    model = {"input": "orders", "path": "/tmp/models/recs", "als": als, "topK": 5}
    step = {"name": "recs", "model": model}

    def with_step(**changes: Any) -> dict[str, Any]:
        return _with(doc, ("spec", "transforms"), [*_get(doc, ("spec", "transforms")), {**step, **changes}])

    def with_model(**changes: Any) -> dict[str, Any]:
        return with_step(model={**model, **changes})

    def with_als(**changes: Any) -> dict[str, Any]:
        return with_model(als={**als, **changes})

    return {
        "model-valid": with_step(),
        "model-and-sql": with_step(sql="SELECT 1"),
        "model-input-unknown": with_model(input="nowhere"),
        "model-same-columns": with_als(itemColumn="customer_id"),
        "model-rating-is-user": with_als(ratingColumn="customer_id"),
        "model-explicit-without-rating": with_model(
            als={"userColumn": "a", "itemColumn": "b", "implicitPrefs": False}
        ),
        "model-rank-zero": with_als(rank=0),
        "model-rank-string": with_als(rank="10"),
        "model-alpha-negative": with_als(alpha=-1),
        "model-test-fraction-high": with_model(evaluation={"testFraction": 0.9}),
        "model-top-k-float": with_model(topK=2.5),
        "model-without-als": with_model(als=None),
        "model-unknown-field": with_als(numBlocks=4),
        "model-cel-plus-range": with_als(itemColumn="customer_id", rank=0),
    }


def _in_set(doc: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    expectation = {"type": "expect_column_values_to_be_in_set", "column": "status", "valueSet": values}
    return _with(doc, ("spec", "expectations"), [expectation])


def _expectations(doc: dict[str, Any], *expectations: dict[str, Any]) -> dict[str, Any]:
    return _with(doc, ("spec", "expectations"), list(expectations))


def _suite_rule_cases(doc: dict[str, Any]) -> Iterator[Case]:
    exp0 = ("spec", "expectations", 0)
    cases = {
        "argument-of-other-type": _with(doc, (*exp0, "regex"), "^a"),
        "min-above-max": _with(
            doc,
            ("spec", "expectations"),
            [
                {
                    "type": "expect_column_values_to_be_between",
                    "column": "amount",
                    "minValue": 5,
                    "maxValue": 1,
                }
            ],
        ),
        "between-without-bounds": _with(
            doc, ("spec", "expectations"), [{"type": "expect_column_values_to_be_between", "column": "a"}]
        ),
        "dataset-path-and-table": _with(doc, ("spec", "dataset"), {"path": "/d", "table": "t"}),
        "scheduled-without-dataset": _with(doc, ("spec", "schedule"), {"cron": "@daily"}),
        "unknown-expectation": _with(doc, (*exp0, "type"), "expect_magic"),
        "value-set-bool-and-float": _in_set(doc, [True, 2.0]),
        "value-set-integral-float": _in_set(doc, ["a", 2.0]),
        "value-set-float": _in_set(doc, [2.5]),
        "value-set-null-item": _in_set(doc, [None]),
        "value-set-raw-yes": _in_set(doc, [_Raw("yes"), "b"]),
        "quantiles-bool": _with(
            doc,
            ("spec", "expectations"),
            [
                {
                    "type": "expect_column_quantile_values_to_be_between",
                    "column": "amount",
                    "quantileRanges": {"quantiles": [True], "valueRanges": [[0, 1]]},
                }
            ],
        ),
        "between-dates": _expectations(
            doc,
            {
                "type": "expect_column_values_to_be_between",
                "column": "ts",
                "minValue": "2000-01-01",
                "maxValue": "2001-01-01T12:00:00",
            },
        ),
        "between-now-parameter": _expectations(
            doc,
            {
                "type": "expect_column_max_to_be_between",
                "column": "ts",
                "maxValue": {"$PARAMETER": "now() - timedelta(weeks=1)"},
            },
        ),
        "between-parameter-not-text": _expectations(
            doc, {"type": "expect_column_values_to_be_between", "column": "ts", "minValue": {"$PARAMETER": 1}}
        ),
        "between-bool-bound": _expectations(
            doc, {"type": "expect_column_values_to_be_between", "column": "a", "minValue": False}
        ),
        "between-float-above-int": _expectations(
            doc, {"type": "expect_column_values_to_be_between", "column": "a", "minValue": 2.5, "maxValue": 2}
        ),
        "bound-on-set-type": _expectations(
            doc, {"type": "expect_column_values_to_be_in_set", "column": "a", "valueSet": [1], "minValue": 1}
        ),
        "value-set-mixed-scalars": _in_set(doc, ["a", 1, 2.5, True, None]),
        "value-set-map-item": _in_set(doc, [{"a": 1}]),
        "value-set-list-item": _in_set(doc, [[1]]),
        "quantiles-open-range": _expectations(
            doc,
            {
                "type": "expect_column_quantile_values_to_be_between",
                "column": "amount",
                "quantileRanges": {"quantiles": [0.1, 0.9], "valueRanges": [[None, 5], [3, None]]},
            },
        ),
        "regex-list-all": _expectations(
            doc,
            {
                "type": "expect_column_values_to_match_regex_list",
                "column": "a",
                "regexList": ["^a", "b$"],
                "matchOn": "all",
            },
        ),
        "regex-list-bad-match-on": _expectations(
            doc,
            {
                "type": "expect_column_values_to_match_regex_list",
                "column": "a",
                "regexList": ["^a"],
                "matchOn": "some",
            },
        ),
        "not-regex-list-with-match-on": _expectations(
            doc,
            {
                "type": "expect_column_values_to_not_match_regex_list",
                "column": "a",
                "regexList": ["^a"],
                "matchOn": "any",
            },
        ),
        "json-schema": _expectations(
            doc,
            {
                "type": "expect_column_values_to_match_json_schema",
                "column": "a",
                "jsonSchema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]},
            },
        ),
        "json-schema-not-object": _expectations(
            doc, {"type": "expect_column_values_to_match_json_schema", "column": "a", "jsonSchema": "{}"}
        ),
        "pairs-set": _expectations(
            doc,
            {
                "type": "expect_column_pair_values_to_be_in_set",
                "columnA": "a",
                "columnB": "b",
                "valuePairsSet": [["x", 1], [None, 2.5]],
                "ignoreRowIf": "either_value_is_missing",
            },
        ),
        "pairs-set-triple": _expectations(
            doc,
            {
                "type": "expect_column_pair_values_to_be_in_set",
                "columnA": "a",
                "columnB": "b",
                "valuePairsSet": [["x", 1, 2]],
            },
        ),
        "ignore-row-if-multicolumn-with-pair-value": _expectations(
            doc,
            {
                "type": "expect_multicolumn_sum_to_equal",
                "columnList": ["a", "b"],
                "sumTotal": 3,
                "ignoreRowIf": "neither",
            },
        ),
        "z-scores": _expectations(
            doc,
            {
                "type": "expect_column_value_z_scores_to_be_less_than",
                "column": "a",
                "threshold": 3,
                "doubleSided": True,
            },
        ),
        "increasing-strictly-string": _expectations(
            doc, {"type": "expect_column_values_to_be_increasing", "column": "a", "strictly": "yes"}
        ),
        "column-index-negative": _expectations(
            doc, {"type": "expect_column_to_exist", "column": "a", "columnIndex": -1}
        ),
        "ties-okay": _expectations(
            doc,
            {
                "type": "expect_column_most_common_value_to_be_in_set",
                "column": "a",
                "valueSet": ["x"],
                "tiesOkay": True,
            },
        ),
        "type-list-on-other-type": _expectations(
            doc, {"type": "expect_column_values_to_be_unique", "column": "a", "typeList": ["StringType"]}
        ),
        "quantiles-length-mismatch": _with(
            doc,
            ("spec", "expectations"),
            [
                {
                    "type": "expect_column_quantile_values_to_be_between",
                    "column": "amount",
                    "quantileRanges": {"quantiles": [0.5, 0.9], "valueRanges": [[0, 1]]},
                }
            ],
        ),
    }
    for label, mutated in cases.items():
        yield Case(f"dataqualitysuite/rule/{label}", _dump(mutated))


def _raw_text_cases() -> Iterator[Case]:
    """YAML text that only raw writing shows: quoted values, Norway keys, anchors."""
    text = (EXAMPLES / EXAMPLE_FILES["DataPipeline"]).read_text()
    yield Case("raw/quoted-number", text.replace("maxRetries: 2", 'maxRetries: "2"'))
    yield Case(
        "raw/single-quoted-bool", text.replace("backoffSeconds: 30", "backoffSeconds: 30\n  suspend: 'true'")
    )
    yield Case("raw/octal", text.replace("maxRetries: 2", "maxRetries: 010"))
    yield Case("raw/octal-invalid-digit", text.replace("maxRetries: 2", "maxRetries: 08"))
    yield Case("raw/underscore-number", text.replace("retentionDays: 365", "retentionDays: 3_65"))
    yield Case("raw/sexagesimal", text.replace("retentionDays: 365", "retentionDays: 6:05"))
    yield Case("raw/tagged-str", text.replace("maxRetries: 2", "maxRetries: !!str 2"))
    yield Case("raw/anchor-merge", text.replace("  retry:\n", "  retry: &r\n"))
    yield Case("raw/norway-key", text.replace("    team: sales", "    team: sales\n    n: x"))
    yield Case("raw/bool-name", text.replace("name: orders-daily", "name: on"))
    yield Case("raw/date-string", text.replace('cron: "0 2 * * *"', "cron: 2026-01-01"))
    yield Case("raw/inf", text.replace("retentionDays: 365", "retentionDays: .inf"))
    yield Case("raw/empty-value", text.replace("    backoffSeconds: 30", "    backoffSeconds:"))
    yield Case("raw/beyond-int64", text.replace("maxRetries: 2", "maxRetries: 99999999999999999999"))
    yield Case("raw/duplicate-key", text.replace("maxRetries: 2", "maxRetries: 2\n    maxRetries: 3"))
    yield Case("raw/tagged-int", text.replace("maxRetries: 2", 'maxRetries: !!int "2"'))
    yield Case("raw/generate-name", text.replace("name: orders-daily", "generateName: orders-"))
    yield Case(
        "raw/tagged-bool-y",
        text.replace("    backoffSeconds: 30", '    backoffSeconds: 30\n  suspend: !!bool "y"'),
    )
    yield Case("raw/tagged-float", text.replace("maxRetries: 2", "maxRetries: !!float 5"))
    yield Case("raw/go-numbers", text.replace("maxRetries: 2", "maxRetries: 0o17").replace("365", "0x_16d"))
    yield Case("raw/not-a-number", text.replace("maxRetries: 2", "maxRetries: 0b2"))
    yield Case("raw/trailing-dot", text.replace("maxRetries: 2", "maxRetries: 5."))
    yield Case(
        "raw/v1-list",
        "apiVersion: v1\nkind: List\nitems:\n"
        + "".join(f"  {line}\n" if i else f"- {line}\n" for i, line in enumerate(text.splitlines()[1:])),
    )
    yield Case("raw/tilde", text.replace("    backoffSeconds: 30", "    backoffSeconds: ~"))


def generate(seed: int = 12, size: int = 300) -> list[Case]:
    """The corpus: every rule, name, label and raw-text case, plus ``size`` sampled field mutations."""
    _Raw.counter = 0
    fixed: list[Case] = []
    sampled: list[Case] = []
    for info in KINDS:
        doc = yaml.safe_load((EXAMPLES / EXAMPLE_FILES[info.kind]).read_text())
        schema = openapi_schema(info)
        sampled.extend(_mutations(info.kind, doc, schema))
        fixed.extend(_metadata_cases(info.kind, doc))
        if info.kind == "DataPipeline":
            fixed.extend(_pipeline_rule_cases(doc))
        if info.kind == "DataQualitySuite":
            fixed.extend(_suite_rule_cases(doc))
    fixed.extend(_raw_text_cases())
    valid = [c for c in sampled if c.id.endswith("/valid")]
    rest = [c for c in sampled if not c.id.endswith("/valid")]
    rng = random.Random(seed)
    chosen = rest if len(rest) <= size else rng.sample(rest, size)
    unique: dict[str, Case] = {}
    for case in [*valid, *fixed, *sorted(chosen, key=lambda c: c.id)]:
        unique.setdefault(case.id, case)
    return list(unique.values())
