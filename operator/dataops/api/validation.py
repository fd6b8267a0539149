"""Offline validation of manifests with the same models the CRDs are generated from.

The steps follow the API server's handling of a custom resource (``kubectl apply --dry-run=server``):

1. the manifest is read as kubectl reads YAML (:mod:`dataops.kubeyaml`, done by the caller);
2. unknown fields are errors, and when there are any nothing else is checked (Strict field
   validation fails at decoding); null values are pruned (:mod:`dataops.api.structural`);
3. defaults are applied and types are checked strictly, as JSON: ``"3"`` is not an integer and
   ``"true"`` is not a boolean (pydantic strict mode in JSON mode; only here, runtime parsing stays lax);
4. CEL rules are checked, unless a type or enum error was found: then the API server skips every
   CEL rule ("some validation rules were not checked") and so does this;
5. metadata.name must be a DNS-1123 subdomain, as for every custom resource.

Errors are reported the way the API server reports them: a field path and a reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel, ValidationError

from dataops.api.celcheck import cel_errors
from dataops.api.structural import Schema, decode
from dataops.api.v1alpha1 import API_VERSION, DataPipeline, DataPolicy, DataQualitySuite
from dataops.api.v1alpha1.base import CelRule
from dataops.api.v1alpha1.dataqualitysuite import ARGUMENT_CHECKS
from dataops.api.v1alpha1.meta import ObjectMeta

MODELS: dict[str, type[BaseModel]] = {
    "DataPipeline": DataPipeline,
    "DataQualitySuite": DataQualitySuite,
    "DataPolicy": DataPolicy,
}

# Where the API server puts the errors of rules declared on the object's root (x-kubernetes-validations
# at the top of the schema): it has no field path to name.
ROOT_PATH = "<nil>"

_REASONS = {
    "missing": "Required value",
    "extra_forbidden": "Unknown field",
    "enum": "Unsupported value",
    "literal_error": "Unsupported value",
    "duplicate_value": "Duplicate value",
    "cel_rule": "Invalid value",
}
# Errors of the kinds the API server does not treat as blocking: CEL rules are still checked after them.
# Type, enum, "Required value", "Too long" (maxLength) and "Too many" (maxItems) errors block every CEL rule.
_NON_BLOCKING = {
    "duplicate_value",
    "cel_rule",
    "string_too_short",
    "too_short",
    "string_pattern_mismatch",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "multiple_of",
}
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


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
        path = (path + field_path if path else field_path.lstrip(".")) or ROOT_PATH
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
        message = f"{json.dumps(err.get('input'))}: {message}"
    return FieldError(path, reason, message)


@cache
def _schema(kind: str) -> Schema:
    from dataops.api.crdgen import KINDS, openapi_schema

    return next(openapi_schema(info) for info in KINDS if info.kind == kind)


def _metadata_errors(metadata: dict[str, Any]) -> tuple[list[FieldError], ObjectMeta | None]:
    errors: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        errors.append(
            FieldError(
                "metadata.name", "Required value", "name is required (kubectl apply cannot use generateName)"
            )
        )
    elif isinstance(name, str) and (len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name)):
        errors.append(
            FieldError(
                "metadata.name",
                "Invalid value",
                f"{name!r}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character "
                "(at most 253 characters)",
            )
        )
    namespace = metadata.get("namespace")
    if isinstance(namespace, str) and (len(namespace) > 63 or not DNS1123_LABEL.fullmatch(namespace)):
        errors.append(
            FieldError("metadata.namespace", "Invalid value", f"{namespace!r}: not a DNS-1123 label")
        )
    try:
        meta = ObjectMeta.model_validate_json(json.dumps(metadata), strict=True)
    except ValidationError as exc:
        reported = {e.path for e in errors}
        for e in exc.errors():
            loc = ("metadata", *e["loc"])
            # kubectl decodes metadata into ObjectMeta: a bad map value is an error of the whole map
            loc = loc[:2] if loc[1] in ("labels", "annotations") else loc
            error = _error_from_pydantic({**e, "loc": loc})
            if error.path not in reported:
                reported.add(error.path)
                errors.append(error)
        return errors, None
    errors += _label_errors(meta.labels, "metadata.labels", values=True)
    errors += _label_errors(meta.annotations, "metadata.annotations", values=False)
    return errors, meta


def _qualified_name_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return "prefix part must be a lowercase RFC 1123 subdomain"
    if not name or len(name) > 63 or not QUALIFIED_NAME.fullmatch(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (at most 63 characters)"
        )
    return None


def _label_errors(items: dict[str, str], path: str, *, values: bool) -> list[FieldError]:
    """Label and annotation keys are qualified names; label values are short names or empty."""
    errors: list[FieldError] = []
    for key, value in items.items():
        problem = _qualified_name_problem(key)
        if problem:
            errors.append(FieldError(path, "Invalid value", f"{key!r}: {problem}"))
        if values and (len(value) > 63 or (value and not QUALIFIED_NAME.fullmatch(value))):
            errors.append(
                FieldError(
                    path,
                    "Invalid value",
                    f"{value!r}: a valid label value must be at most 63 "
                    "characters of alphanumerics, '-', '_' or '.', starting and ending alphanumeric",
                )
            )
    if not values and sum(len(k) + len(v) for k, v in items.items()) > 256 * 1024:
        errors.append(FieldError(path, "Too long", "annotations may not exceed 262144 bytes"))
    return errors


def _envelope_errors(doc: dict[str, Any]) -> list[FieldError]:
    kind = doc.get("kind")
    if str(kind) not in MODELS:
        return [FieldError("kind", "Unsupported value", f"{kind!r}: supported values: {', '.join(MODELS)}")]
    if doc.get("apiVersion") != API_VERSION:
        return [
            FieldError(
                "apiVersion", "Unsupported value", f"{doc.get('apiVersion')!r}: expected {API_VERSION}"
            )
        ]
    metadata = doc.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return [FieldError("metadata", "Invalid value", f"{metadata!r}: must be a mapping")]
    return []


def validate_document(doc: Any) -> list[FieldError]:
    """All errors of one manifest (empty when valid), as the API server would report them.

    ``doc`` is the JSON the API server receives: read YAML with :func:`dataops.kubeyaml.load_all`.
    """
    if not isinstance(doc, dict):
        return [FieldError("", "Invalid value", "a manifest must be a mapping")]
    envelope_errors = _envelope_errors(doc)
    if envelope_errors:
        return envelope_errors
    kind = str(doc["kind"])
    model = MODELS[kind]
    decoded = decode(doc, _schema(kind))
    if decoded.unknown_fields:
        return [FieldError(path, "Unknown field", "strict decoding error") for path in decoded.unknown_fields]
    body = decoded.body
    # The status of a new object is dropped by the API server (status subresource); it is never validated.
    body.pop("status", None)
    errors, meta = _metadata_errors(body.get("metadata") or {})
    model_errors: list[tuple[FieldError, str]] = []
    admitted: BaseModel | None = None
    try:
        admitted = model.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        seen: set[str] = set()
        for err in exc.errors():
            error = _error_from_pydantic(err)
            if error.path.startswith("metadata") or err["type"] == "cel_rule":
                continue  # reported by _metadata_errors and the rule checks below
            if error.path in seen:
                continue
            seen.add(error.path)
            model_errors.append((error, err["type"]))
    if any(kind not in _NON_BLOCKING for _, kind in model_errors):
        # Like the API server: no CEL rule is reported once a value has the wrong type or enum.
        return errors + [e for e, _ in model_errors]
    if meta is not None:
        # Root rules only read metadata; like the API server, report them even when the spec has errors.
        envelope = SimpleNamespace(metadata=meta)
        for rule in getattr(model, "cel_rules", ()):
            if not rule.check(envelope):
                errors.append(FieldError(ROOT_PATH, "Invalid value", rule.message))
    rules = [_rule_error(path, rule) for path, rule in cel_errors(model, body, "spec")]
    found = errors + [e for e, _ in model_errors] + rules
    if not found and isinstance(admitted, DataQualitySuite):
        # Validating admission runs only on an object that passed the schema and its CEL rules, and
        # reports the first failing validation.
        return _argument_error(admitted)
    return found


def _argument_error(suite: DataQualitySuite) -> list[FieldError]:
    """The admission policy's verdict (dataops.api.suite_admission): its first failing validation, at
    the first expectation failing it."""
    for check in ARGUMENT_CHECKS:
        for index, expectation in enumerate(suite.spec.expectations):
            if not check.check(expectation):
                path = f"spec.expectations[{index}].{check.argument}"
                return [FieldError(path, "Invalid value", check.message)]
    return []


def _rule_error(path: str, rule: CelRule) -> FieldError:
    reason = {"FieldValueRequired": "Required value", "FieldValueForbidden": "Forbidden"}.get(
        rule.reason, "Invalid value"
    )
    return FieldError(path, reason, rule.message)


def admitted_model(doc: dict[str, Any]) -> BaseModel:
    """The typed object the API server would store for a valid ``doc`` (nulls pruned, defaults set).

    Raises ``ValidationError`` when ``doc`` is not valid (check :func:`validate_document` first).
    """
    kind = str(doc.get("kind"))
    body = decode(doc, _schema(kind)).body
    body.pop("status", None)
    return MODELS[kind].model_validate_json(json.dumps(body), strict=True)
