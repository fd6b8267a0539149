"""Every CEL rule of an object, checked offline the way the API server checks them.

The API server evaluates each ``x-kubernetes-validations`` rule of every node, all of them, even
where a value elsewhere breaks a length, range or pattern constraint. Pydantic runs a model's rules
(an after-validator) only when all its fields validated, and stops at the first failing rule. So the
offline validator evaluates the rules itself, over a light copy of the decoded JSON: each object
becomes a namespace with the model's attribute names, defaults filled in and enums typed, which is
what the rules' Python checks read. A rule whose check cannot be evaluated on that copy (a required
field is missing) is not reported, as CEL reports no rule whose fields are absent.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel

from dataops.api.v1alpha1.base import CelRule, KubeModel


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) if a is not type(None) for m in _members(a)]
    return [annotation]


def _convert(annotation: Any, value: Any, path: str, errors: list[tuple[str, CelRule]]) -> Any:
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(member) or (Any,)
            return [_convert(item, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
        if isinstance(member, type) and issubclass(member, KubeModel) and isinstance(value, dict):
            return _node(member, value, path, errors)
        if isinstance(member, type) and issubclass(member, Enum) and isinstance(value, str):
            try:
                return member(value)
            except ValueError:
                return value
    return value


def _node(model: type[KubeModel], data: dict[str, Any], path: str, errors: list[tuple[str, CelRule]]) -> Any:
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        child = f"{path}.{alias}" if path else alias
        if alias in data:
            values[name] = _convert(info.annotation, data[alias], child, errors)
        elif not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    node = types.SimpleNamespace(**values)
    for rule in model.cel_rules:
        try:
            ok = rule.check(node)
        except Exception:  # a value the rule cannot read (only possible next to a blocking error)
            continue
        if not ok:
            errors.append((f"{path}{rule.field_path or ''}" or "<nil>", rule))
    return node


def cel_errors(model: type[BaseModel], body: dict[str, Any], field: str) -> list[tuple[str, CelRule]]:
    """(path, rule) of every failing rule under ``body[field]`` (e.g. ``spec``) of ``model``."""
    errors: list[tuple[str, CelRule]] = []
    info = model.model_fields.get(field)
    value = body.get(field)
    if info is not None and isinstance(value, dict):
        _convert(info.annotation, value, field, errors)
    return errors
