"""Read YAML the way kubectl does, so offline tools see the JSON the API server sees.

kubectl converts YAML to JSON with sigs.k8s.io/yaml, which parses with go-yaml v2 (YAML 1.1 rules)
and re-encodes with Go's encoding/json. PyYAML's safe_load differs in ways that change verdicts:

* booleans: go-yaml also reads ``y``/``Y``/``n``/``N`` as booleans (besides yes/no/on/off/true/false
  in lower, Title and UPPER case); any other spelling (``yEs``) stays a string;
* timestamps: go-yaml keeps ``2026-01-01`` a string when the target is untyped; PyYAML makes a date;
* numbers: go-yaml reads integers with Go's ``strconv.ParseInt(s, 0, 64)`` after removing ``_``
  (``0x1f``, ``0o17``, ``017`` octal, ``0b101``, ``+5``), floats by the pattern
  ``[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?`` (so ``1e3`` is a number, ``08`` is 8.0),
  and has no base-60 numbers (``1:30`` is a string);
* JSON: encoding/json writes an integral float as an integer (``2.0`` -> ``2``), so the API server
  reads it as an integer (within int64; a larger integer arrives as a float); map keys become
  strings (``true``, ``1``); NaN and infinities cannot be encoded, so kubectl refuses the file.
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Iterator
from typing import Any

import yaml

_BOOLS = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"), False),
}
_NULLS = {"", "~", "null", "Null", "NULL"}
_SPECIAL_FLOATS = {
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
_GO_INT = re.compile(r"[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
# Go's encoding/json switches to exponent notation from 1e21 on; below it an integral float is an integer.
_JSON_EXPONENT_FROM = 1e21

_GO_SCALAR_TAG = "tag:dataops.dev,2026:go-yaml-scalar"


class KubectlYamlError(ValueError):
    """The document cannot be converted to JSON (kubectl refuses it too)."""


def resolve_plain_scalar(text: str) -> Any:
    """The value go-yaml v2 gives an unquoted, untagged scalar when decoding into interface{}."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if not text or text[0] not in "+-.0123456789":
        return text
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        sign = -1 if plain[0] == "-" else 1
        digits = plain.lstrip("+-")
        base = 10
        if digits[:2].lower() in ("0x", "0o", "0b"):
            base = {"x": 16, "o": 8, "b": 2}[digits[1].lower()]
            digits = digits[2:]
        elif len(digits) > 1 and digits[0] == "0":
            base = 8
        value = sign * int(digits, base)
        if _INT64[0] <= value <= _INT64[1] or (sign > 0 and value <= _UINT64_MAX):
            return value
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        return float(plain)
    return text


class _GoYamlLoader(yaml.SafeLoader):
    """SafeLoader whose implicit typing of plain scalars is go-yaml v2's."""


_GoYamlLoader.yaml_implicit_resolvers = {}
_GoYamlLoader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"<<$"), ["<"])
# Every plain scalar goes through resolve_plain_scalar (quoted scalars and explicit tags are unaffected).
_GoYamlLoader.add_implicit_resolver(_GO_SCALAR_TAG, re.compile(r"(?s).*"), None)


def _construct_go_scalar(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    return resolve_plain_scalar(loader.construct_scalar(node))


_GoYamlLoader.add_constructor(_GO_SCALAR_TAG, _construct_go_scalar)

_EXPLICIT_TAGS: dict[str, tuple[type, ...]] = {
    "tag:yaml.org,2002:bool": (bool,),
    "tag:yaml.org,2002:int": (int,),
    "tag:yaml.org,2002:float": (float, int),
    "tag:yaml.org,2002:null": (type(None),),
}


def _construct_tagged(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    """An explicit ``!!bool``/``!!int``/``!!float``/``!!null`` scalar, read with go-yaml's rules."""
    text = str(loader.construct_scalar(node))
    value: Any = resolve_plain_scalar(text)
    wanted = _EXPLICIT_TAGS[node.tag]
    if isinstance(value, bool) and bool not in wanted:
        value = text
    if not isinstance(value, wanted):
        raise yaml.constructor.ConstructorError(
            None, None, f"cannot decode {text!r} as a {node.tag.rsplit(':', 1)[-1]}", node.start_mark
        )
    return float(typing.cast(float, value)) if node.tag.endswith("float") else value


for _tag in _EXPLICIT_TAGS:
    _GoYamlLoader.add_constructor(_tag, _construct_tagged)


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return repr(key) if not key.is_integer() else str(int(key))
    return str(key)


def to_json_value(value: Any, path: str = "") -> Any:
    """The value as the API server receives it after kubectl's YAML -> JSON conversion."""
    if isinstance(value, dict):
        return {_json_key(k): to_json_value(v, f"{path}.{_json_key(k)}") for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise KubectlYamlError(f"{path.lstrip('.') or '<root>'}: unsupported value: {value} (not JSON)")
        if value.is_integer() and abs(value) < _JSON_EXPONENT_FROM and _INT64[0] <= value <= _INT64[1]:
            return int(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        return float(value)  # the API server decodes a JSON integer beyond int64 as a float
    if isinstance(value, bytes):  # !!binary: encoding/json writes []byte as base64
        import base64

        return base64.b64encode(value).decode()
    if hasattr(value, "isoformat"):  # explicit !!timestamp tag
        return value.isoformat()
    if isinstance(value, set):
        return {str(k): None for k in value}
    return value


def load_all(text: str) -> Iterator[Any]:
    """Every document of a YAML stream, as the JSON kubectl would send (None for empty documents)."""
    for document in yaml.load_all(text, Loader=_GoYamlLoader):
        yield None if document is None else to_json_value(document)
