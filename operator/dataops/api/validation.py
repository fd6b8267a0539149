"""Offline validation of manifests with the same models the CRDs are generated from.

Errors are reported the way the API server reports them: a field path and a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, ValidationError

from dataops.api.v1alpha1 import API_VERSION, DataPipeline, DataPolicy, DataQualitySuite
from dataops.api.v1alpha1.meta import ObjectMeta

MODELS: dict[str, type[BaseModel]] = {
    "DataPipeline": DataPipeline,
    "DataQualitySuite": DataQualitySuite,
    "DataPolicy": DataPolicy,
}

_REASONS = {
    "missing": "Required value",
    "extra_forbidden": "Unknown field",
    "enum": "Unsupported value",
    "literal_error": "Unsupported value",
    "duplicate_value": "Duplicate value",
    "cel_rule": "Invalid value",
}


@dataclass(frozen=True)
class FieldError:
    path: str
    reason: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}: {self.message}"


def format_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_type_tag(part):
            continue
        else:
            out += f".{part}" if out else part
    return out


def _is_type_tag(part: str) -> bool:
    # pydantic adds the union member or validator name to the location of union errors
    return part in {"int", "str", "float", "bool"} or "[" in part


def _error_from_pydantic(err: Any) -> FieldError:
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    path = format_path(loc)
    if kind == "cel_rule":
        field_path = ctx.get("field_path") or ""
        path = (path + field_path if path else field_path.lstrip(".")) or "<root>"
        reason = {"FieldValueRequired": "Required value", "FieldValueForbidden": "Forbidden"}.get(
            ctx.get("reason", ""), "Invalid value"
        )
        return FieldError(path, reason, str(ctx.get("message", err["msg"])))
    if kind == "duplicate_value":
        return FieldError(f"{path}[{ctx.get('index')}]", "Duplicate value", f"name {ctx.get('key')!r}")
    reason = _REASONS.get(kind, "Invalid value")
    message = err["msg"]
    if kind == "enum" and len(str(ctx.get("expected", ""))) > 200:
        message = "not a supported value (see the field's enum in the CRD)"
    if kind not in ("missing", "extra_forbidden"):
        message = f"{err.get('input')!r}: {message}"
    return FieldError(path, reason, message)


def validate_document(doc: Any) -> list[FieldError]:
    """All errors of one manifest (empty when valid)."""
    if not isinstance(doc, dict):
        return [FieldError("", "Invalid value", "a manifest must be a mapping")]
    kind = doc.get("kind")
    model = MODELS.get(str(kind))
    if model is None:
        return [FieldError("kind", "Unsupported value", f"{kind!r}: supported values: {', '.join(MODELS)}")]
    if doc.get("apiVersion") != API_VERSION:
        return [
            FieldError(
                "apiVersion", "Unsupported value", f"{doc.get('apiVersion')!r}: expected {API_VERSION}"
            )
        ]
    errors: list[FieldError] = []
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict):
        return [FieldError("metadata", "Invalid value", f"{metadata!r}: must be a mapping")]
    if not metadata.get("name"):
        errors.append(FieldError("metadata.name", "Required value", "name or generateName is required"))
    try:
        meta = ObjectMeta.model_validate(metadata)
    except ValidationError as exc:
        return errors + [
            _error_from_pydantic({**e, "loc": ("metadata", *e["loc"])})
            for e in exc.errors()
            if not (e["loc"] == ("name",) and not metadata.get("name"))
        ]
    # Root rules only read metadata; like the API server, report them even when the spec has errors.
    envelope = SimpleNamespace(metadata=meta)
    for rule in getattr(model, "cel_rules", ()):
        if not rule.check(envelope):
            errors.append(FieldError("<root>", "Invalid value", rule.message))
    seen = {(e.path, e.message) for e in errors}
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            error = _error_from_pydantic(err)
            if (error.path, error.message) not in seen and error.path not in {p for p, _ in seen}:
                seen.add((error.path, error.message))
                errors.append(error)
    return errors
