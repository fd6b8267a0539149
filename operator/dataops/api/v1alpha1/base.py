"""Base model for every API object: camelCase aliases, unknown fields forbidden, CEL rules.

A cross-field rule is written once as a :class:`CelRule`: the CEL expression goes into the
generated CRD (``x-kubernetes-validations``) so the API server enforces it, and the Python
predicate beside it gives ``dataops validate`` the same verdict offline. Tests apply the same
bad manifests to both and compare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema


@dataclass(frozen=True)
class CelRule:
    """A validation rule enforced by the API server (CEL) and offline (Python)."""

    rule: str
    message: str
    check: Callable[[Any], bool] = field(compare=False)
    field_path: str | None = None
    reason: str = "FieldValueInvalid"

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path:
            out["fieldPath"] = self.field_path
        if self.reason != "FieldValueInvalid":
            out["reason"] = self.reason
        return out


class KubeModel(BaseModel):
    """Base of every spec/status model."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_default=False,
    )

    cel_rules: ClassVar[tuple[CelRule, ...]] = ()

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if cls.cel_rules:
            target = handler.resolve_ref_schema(json_schema)
            target["x-kubernetes-validations"] = [r.to_schema() for r in cls.cel_rules]
        return json_schema

    @model_validator(mode="after")
    def _check_cel_rules(self) -> KubeModel:
        for rule in type(self).cel_rules:
            if not rule.check(self):
                raise PydanticCustomError(
                    "cel_rule",
                    "{message}",
                    {"message": rule.message, "field_path": rule.field_path or "", "reason": rule.reason},
                )
        return self

    def to_json(self) -> dict[str, Any]:
        """Serialise with the API's field names, leaving out unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def list_map(*keys: str) -> dict[str, Any]:
    """Schema extra marking a list as a map keyed by ``keys`` (API server rejects duplicate keys)."""
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": list(keys)}


def unique_names(items: list[Any], attr: str = "name") -> list[Any]:
    """Offline twin of ``x-kubernetes-list-type: map``: keys must be unique."""
    seen: set[Any] = set()
    for index, item in enumerate(items):
        key = getattr(item, attr)
        if key in seen:
            raise PydanticCustomError(
                "duplicate_value",
                "Duplicate value: {key}",
                {"key": key, "index": index},
            )
        seen.add(key)
    return items
