"""Reading a stored status that another version of the operator wrote. Pure.

A status is the operator's memory (active runs, history, the last schedule slot). An upgrade may
add or remove fields or values; rebuilding the status from scratch when it does not parse would
forget runs that are still going. So: unknown fields are ignored, and a value that does not
validate is dropped as narrowly as possible (the field when it has a default, otherwise the list
element or the top-level field that holds it), never the whole status.
"""

from __future__ import annotations

import copy
import types
from typing import Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)

_MAX_REPAIRS = 200


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class inside ``X``, ``X | None``, ``list[X]`` (else None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        for arg in get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def _field(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name, info
    return None


def _drop_target(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The shortest prefix of ``loc`` whose removal repairs the error: the deepest optional field,
    else the deepest list element, else the top-level field."""
    target: tuple[int | str, ...] = loc[:1]
    current: type[BaseModel] | None = model
    for depth, step in enumerate(loc):
        prefix = loc[: depth + 1]
        if isinstance(step, int):
            target = prefix  # a list element can always go
            continue
        if current is None:
            break
        found = _field(current, step)
        if found is None:
            break
        _name, info = found
        if not info.is_required():
            target = prefix
        current = _nested_model(info.annotation)
    return target


def _delete(raw: Any, path: tuple[int | str, ...]) -> bool:
    parent = raw
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    try:
        del parent[last]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def read_status(model: type[ModelT], raw: dict[str, Any] | None) -> ModelT | None:
    """The stored status as ``model``, keeping everything that still validates; None when absent."""
    if not raw:
        return None
    data = copy.deepcopy(raw)
    for _ in range(_MAX_REPAIRS):
        try:
            return model.model_validate(data, extra="ignore")
        except ValidationError as exc:
            errors = exc.errors()
        # Delete deepest paths first, and list elements from the end, so indexes stay valid.
        targets = sorted(
            {_drop_target(model, tuple(e["loc"])) for e in errors if e["loc"]},
            key=lambda p: (len(p), p[-1] if isinstance(p[-1], int) else -1),
            reverse=True,
        )
        if not targets or not any(_delete(data, t) for t in targets):
            break
    try:
        return model.model_validate({}, extra="ignore")
    except ValidationError:
        return None
