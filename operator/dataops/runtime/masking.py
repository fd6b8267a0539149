"""DataPolicy masking as Spark column expressions (JVM side, no Python UDF).

``hash`` is HMAC-SHA-256 (RFC 2104) written in Spark SQL functions: the same key gives the same
digest, so joins on masked keys still work, and without the key a digest cannot be recomputed from a
guessed value. ``tokenize`` is AES-256-GCM (``aes_encrypt``) under SHA-256 of the key, base64
encoded; a key holder reverses it with
``CAST(aes_decrypt(unbase64(col), unhex(sha2('<key>', 256)), 'GCM') AS STRING)``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BinaryType,
    DataType,
    DateType,
    StringType,
    TimestampNTZType,
    TimestampType,
)

from dataops.api.v1alpha1.common import SecretKeySelector
from dataops.api.v1alpha1.datapipeline import Sink, WriteMode
from dataops.api.v1alpha1.datapolicy import GeneralizeTo, MaskingMethod
from dataops.plan.secrets import secret_env_name
from dataops.policy.masking import ColumnMasking, MaskingRule, keys_needed
from dataops.runtime.errors import RunError

REDACTED = "[REDACTED]"
MASK_CHAR = "*"
FALLBACK_KEY_ENV = "DATAOPS_MASKING_KEY"
HMAC_BLOCK = 64
# Binary literals (the keys' pads) in query plans shown by explain and the Spark UI are replaced.
KEY_LITERAL_REDACTION = "(?i)0x[0-9a-f]{32,}"

Keys = dict[tuple[str, str], bytes]  # (secret name, key) -> key bytes


class MaskingError(RunError):
    kind = "masking"


def key_env_names(ref: SecretKeySelector) -> list[str]:
    """Where a run looks for a key: the per-Secret variable (what driver pods get), then the fallback."""
    return [secret_env_name(ref), FALLBACK_KEY_ENV]


def resolve_keys(
    rules: list[MaskingRule],
    *,
    environ: Mapping[str, str] | None = None,
    secrets: Mapping[tuple[str, str], bytes] | None = None,
) -> Keys:
    """The key bytes of every Secret key the rules need, from ``secrets`` (Secret manifests given to
    ``dataops run``) or the environment. Raises MaskingError naming the policy and Secret otherwise."""
    env = os.environ if environ is None else environ
    found: Keys = {}
    for ref in keys_needed(rules):
        value = (secrets or {}).get((ref.name, ref.key))
        if value is None:
            value = next((env[n].encode() for n in key_env_names(ref) if env.get(n)), None)
        if not value:
            policies = sorted({r.policy for r in rules if r.key == ref})
            raise MaskingError(
                ", ".join(policies),
                f"no masking key: Secret {ref.name!r} key {ref.key!r} was not given "
                f"(a Secret manifest, or the environment variable {' or '.join(key_env_names(ref))})",
            )
        found[(ref.name, ref.key)] = value
    return found


def _pads(key: bytes) -> tuple[bytes, bytes]:
    block = hashlib.sha256(key).digest() if len(key) > HMAC_BLOCK else key
    block = block.ljust(HMAC_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def _bytes(value: Column, data_type: DataType) -> Column:
    """The bytes a keyed method works on: UTF-8 of the value's string form (binary as it is)."""
    if isinstance(data_type, BinaryType):
        return value
    as_text = value if isinstance(data_type, StringType) else value.cast("string")
    return as_text.cast("binary")


def hmac_sha256_hex(value: Column, key: bytes) -> Column:
    """HMAC-SHA-256 of binary ``value`` as lower-case hex: sha2(K^opad || sha2(K^ipad || value))."""
    ipad, opad = _pads(key)
    inner = F.unhex(F.sha2(F.concat(F.lit(bytearray(ipad)), value), 256))
    return F.sha2(F.concat(F.lit(bytearray(opad)), inner), 256)


def tokenize(value: Column, key: bytes) -> Column:
    aes_key = hashlib.sha256(key).digest()
    return F.base64(F.aes_encrypt(value, F.lit(bytearray(aes_key)), F.lit("GCM")))


def _partial(value: Column, data_type: DataType, keep_last: int) -> Column:
    text = value if isinstance(data_type, StringType) else value.cast("string")
    length = F.length(text)
    hidden = F.repeat(F.lit(MASK_CHAR), length - F.lit(keep_last))
    kept = F.substring(text, -keep_last, keep_last) if keep_last else F.lit("")
    # A value no longer than what would be kept is masked entirely.
    return F.when(length <= F.lit(keep_last), F.repeat(F.lit(MASK_CHAR), length)).otherwise(
        F.concat(hidden, kept)
    )


def _generalize(value: Column, data_type: DataType, to: GeneralizeTo, where: str) -> Column:
    unit = to.value
    if isinstance(data_type, DateType):
        return F.trunc(value, unit)
    if isinstance(data_type, TimestampType | TimestampNTZType):
        return F.date_trunc(unit, value)
    if isinstance(data_type, StringType):
        pattern = "yyyy" if to == GeneralizeTo.YEAR else "yyyy-MM"
        return F.date_format(F.try_to_timestamp(value), pattern)  # unparseable -> null, never clear
    raise MaskingError(
        where, f"generalize needs a date, timestamp or date string, not {data_type.simpleString()}"
    )


def masked_column(value: Column, data_type: DataType, rule: MaskingRule, keys: Keys, where: str) -> Column:
    """The masked form of one column; nulls stay null."""
    method = rule.method
    if method == MaskingMethod.NONE:
        return value
    if method == MaskingMethod.NULLIFY:
        return F.lit(None).cast(data_type)
    if method == MaskingMethod.REDACT:
        if isinstance(data_type, StringType):
            return F.when(value.isNotNull(), F.lit(REDACTED))
        return F.lit(None).cast(data_type)  # a fixed token does not fit other types
    if method == MaskingMethod.PARTIAL:
        return _partial(value, data_type, rule.keep_last)
    if method == MaskingMethod.GENERALIZE:
        return _generalize(value, data_type, rule.generalize_to, where)
    if rule.key is None or (rule.key.name, rule.key.key) not in keys:
        raise MaskingError(where, f"{method.value} needs the key of {rule.origin()}")
    key = keys[(rule.key.name, rule.key.key)]
    if method == MaskingMethod.HASH:
        return hmac_sha256_hex(_bytes(value, data_type), key)
    return tokenize(_bytes(value, data_type), key)


def apply_masking(
    df: DataFrame, decisions: Mapping[str, ColumnMasking], keys: Keys, *, sink: str
) -> DataFrame:
    """``df`` with every column a decision covers replaced by its masked form (same name, same order)."""
    if not any(d.masked for d in decisions.values()):
        return df
    types = {f.name: f.dataType for f in df.schema.fields}
    columns = []
    for name in df.columns:
        decision = decisions.get(name)
        if decision is None or not decision.masked:
            columns.append(df[f"`{name}`"])
            continue
        expr = masked_column(df[f"`{name}`"], types[name], decision.rule, keys, f"{sink}.{name}")
        columns.append(expr.alias(name))
    return df.select(*columns)


def protect_key_literals(spark: SparkSession) -> None:
    """Keys become binary literals of the query plan: keep them out of explain output and the UI."""
    current = spark.conf.get("spark.sql.redaction.string.regex", None)
    if current and KEY_LITERAL_REDACTION in current:
        return
    value = f"({current})|({KEY_LITERAL_REDACTION})" if current else KEY_LITERAL_REDACTION
    spark.conf.set("spark.sql.redaction.string.regex", value)


# Methods that keep a merge key usable: one value per key, and distinct keys stay distinct.
_MERGE_SAFE = frozenset({MaskingMethod.HASH, MaskingMethod.NONE})


def check_merge_keys(sink: Sink, decided: Mapping[str, ColumnMasking]) -> None:
    """A merge matches rows on its keys: a key masked to a constant or to random tokens would merge
    unrelated rows or never match again."""
    if sink.mode != WriteMode.MERGE:
        return
    for key in sink.merge_keys:
        decision = next((d for c, d in decided.items() if c.lower() == key.lower()), None)
        if decision is not None and decision.rule.method not in _MERGE_SAFE:
            raise MaskingError(
                sink.name,
                f"merge key {key!r} is masked with {decision.rule.method.value} ({decision.rule.origin()}); "
                "merge keys may only be hashed",
            )
