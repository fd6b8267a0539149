"""What the API server does to a custom resource before it validates types and CEL rules.

For a structural schema the API server (1) rejects unknown fields when field validation is
``Strict`` (kubectl's default since 1.27; ``kubectl apply --dry-run=server`` too): the request fails
at decoding with every unknown field named and nothing else checked; a field whose value is null is
not reported; (2) prunes null values of properties that are not ``nullable`` (what Helm renders for an
empty optional value), so defaults then apply; nulls inside lists stay and fail the type check.
This module does both with the generated CRD schema, so the offline verdict follows the same steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

# ObjectMeta's JSON fields (k8s.io/apimachinery/pkg/apis/meta/v1); anything else is an unknown field.
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_ENVELOPE = frozenset({"apiVersion", "kind", "metadata"})


@dataclass
class Decoded:
    """The object after pruning, and the unknown fields found on the way."""

    body: dict[str, Any]
    unknown_fields: list[str] = field(default_factory=list)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, schema: Schema, path: str, unknown: list[str]) -> Any:
    if schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string"):
        return value
    if isinstance(value, dict) and schema.get("type") == "object":
        properties: dict[str, Schema] | None = schema.get("properties")
        extra: Schema | None = schema.get("additionalProperties")
        out: dict[str, Any] = {}
        for key, item in value.items():
            sub = properties.get(key) if properties is not None else extra
            if sub is None and properties is not None and extra is not None:
                sub = extra
            if item is None and not (sub or {}).get("nullable"):
                continue  # pruned (an unknown field whose value is null is dropped silently as well)
            if sub is None:
                if properties is None and extra is None:
                    out[key] = item  # a bare object: kept as is
                else:
                    unknown.append(_join(path, key))
                continue
            out[key] = _walk(item, sub, _join(path, key), unknown)
        return out
    if isinstance(value, list) and "items" in schema:
        return [_walk(item, schema["items"], f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return value


def _decode_metadata(metadata: Any, unknown: list[str]) -> Any:
    if not isinstance(metadata, dict):
        return metadata
    out: dict[str, Any] = {}
    for key, item in metadata.items():
        if key not in OBJECT_META_FIELDS:
            if item is not None:
                unknown.append(f"metadata.{key}")
            continue
        if item is None:
            continue
        if key in ("labels", "annotations") and isinstance(item, dict):
            # encoding/json decodes a null map value into a string field as ""
            item = {k: "" if v is None else v for k, v in item.items()}
        out[key] = item
    return out


def decode(body: dict[str, Any], schema: Schema) -> Decoded:
    """Prune nulls and collect unknown fields of ``body`` against the CRD's ``openAPIV3Schema``."""
    unknown: list[str] = []
    out: dict[str, Any] = {}
    properties: dict[str, Schema] = schema.get("properties", {})
    for key, item in body.items():
        if key == "metadata":
            if item is not None:
                out[key] = _decode_metadata(item, unknown)
            continue
        if key in _ENVELOPE:
            out[key] = item
            continue
        sub = properties.get(key)
        if sub is None:
            if item is not None:
                unknown.append(key)
            continue
        if item is None and not sub.get("nullable"):
            continue
        out[key] = _walk(item, sub, key, unknown)
    return Decoded(out, sorted(unknown))
