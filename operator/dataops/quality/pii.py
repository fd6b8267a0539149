"""Columns that look like personal data, found by pattern counting on a bounded sample.

Each detector exists twice, with the same rules: as a Spark boolean expression over a value
(trimmed, as a string) for the ``expect_column_values_to_not_contain_pii`` expectation, which runs
over every row; and in Python for :func:`detect`, which reads at most ``sample_rows`` rows of the
candidate columns into the driver (one small ``limit`` job) and counts there. Building and compiling
the Spark expression for every detector of every column costs a second or more per call whatever
the data size, which every run would pay; counting 10,000 values in Python costs milliseconds. Both
use regular expressions (Java's semantics kept in Python: ``$`` also matches before one final line
terminator) plus the check digits that tell real identifiers from look-alikes (Luhn for card
numbers, ISO 7064 mod-97 for IBANs, the mod-23 letter of Spanish DNIs); tests hold the two
equal value by value. A column is reported when the share of its non-empty sampled values one
classification matches reaches ``threshold``.

Only column names, classifications and ratios leave this module: never a value.

Detectors (classification: what matches):

* email: ``local@domain.tld``
* phone: E.164 (``+14155550123``), international with separators (``+44 20 7946 0958``),
  North American (``(415) 555-0123``, ``415-555-0123``) and national numbers with a trunk 0
  (``030 1234567``, ``01 23 45 67 89``); 8-15 digits (9-12 for national ones)
* creditCard: 13-19 digits (spaces or dashes allowed) starting 2-6, with a valid Luhn checksum
* bankAccount: IBAN (country code, 2 check digits, 11-30 characters, spaces allowed), valid mod-97
* ipAddress: IPv4 dotted quad, IPv6 (full or compressed)
* nationalId: US SSN (``123-45-6789``, not 000/666/9xx, group 00 or serial 0000), UK National
  Insurance number (``QQ 12 34 56 C``), Spanish DNI (``12345678Z``, valid control letter)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import IntegralType, StringType

from dataops.api.v1alpha1.datapolicy import MaskingMethod, PiiClassification

DEFAULT_SAMPLE_ROWS = 10_000
DEFAULT_THRESHOLD = 0.8

_EMAIL = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
_E164 = r"^\+[1-9][0-9]{7,14}$"
_INTERNATIONAL = r"^\+[1-9][0-9]{0,3}([ .-]?\(?[0-9]{1,4}\)?){2,6}$"
_NANP = r"^(\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}$"
_NATIONAL = r"^0[1-9][0-9]{0,4}([ /.-]?[0-9]{2,4}){1,5}$"
_CARD = r"^[0-9]{4}([ -]?[0-9]{2,7}){2,4}$"
_CARD_DIGITS = "^[2-6][0-9]{12,18}$"
_IBAN = r"^[A-Z]{2}[0-9]{2}( ?[A-Z0-9]){11,30}$"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"^({_OCTET}\.){{3}}{_OCTET}$"
_H = "[0-9a-fA-F]{1,4}"
_IPV6 = (
    rf"^(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
    rf"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
    rf"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))$"
)
_SSN = r"^(?!000|666|9[0-9]{2})[0-9]{3}([- ])(?!00)[0-9]{2}\1(?!0000)[0-9]{4}$"
_NINO = r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]$"
_DNI = r"^[0-9]{8}-?[A-HJ-NP-TV-Z]$"
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _chars(value: Column) -> Column:
    return F.split(value, "")


def _digit(char: Column) -> Column:
    return F.ascii(char) - F.lit(48)


def _digit_count(value: Column) -> Column:
    return F.length(F.regexp_replace(value, "[^0-9]", ""))


def _luhn_valid(digits: Column) -> Column:
    doubled = F.transform(
        F.reverse(_chars(digits)),
        lambda d, i: F.when(
            i % 2 == 1, F.when(_digit(d) * 2 > 9, _digit(d) * 2 - 9).otherwise(_digit(d) * 2)
        ).otherwise(_digit(d)),
    )
    return F.aggregate(doubled, F.lit(0), lambda acc, x: acc + x) % 10 == 0


def _mod(chars: Column, modulus: int) -> Column:
    """The number written by ``chars`` (digits, letters A=10 .. Z=35) modulo ``modulus``."""

    def step(acc: Column, c: Column) -> Column:
        code = F.ascii(c)
        return F.when(code >= 65, (acc * 100 + (code - 55)) % modulus).otherwise(
            (acc * 10 + code - 48) % modulus
        )

    return F.aggregate(chars, F.lit(0).cast("long"), step)


def _card(value: Column) -> Column:
    digits = F.regexp_replace(value, "[ -]", "")
    return value.rlike(_CARD) & digits.rlike(_CARD_DIGITS) & _luhn_valid(digits)


def _iban(value: Column) -> Column:
    compact = F.regexp_replace(value, " ", "")
    rearranged = F.concat(F.substring(compact, 5, 40), F.substring(compact, 1, 4))
    return value.rlike(_IBAN) & (F.length(compact) <= 34) & (_mod(_chars(rearranged), 97) == 1)


def _phone(value: Column) -> Column:
    digits = _digit_count(value)
    international = value.rlike(_INTERNATIONAL) & digits.between(8, 15)
    national = value.rlike(_NATIONAL) & digits.between(9, 12)
    return value.rlike(_E164) | international | value.rlike(_NANP) | national


def _dni(value: Column) -> Column:
    number = F.substring(value, 1, 8)
    letter = F.substring(value, -1, 1)
    expected = F.substring(F.lit(_DNI_LETTERS), (_mod(_chars(number), 23) + 1).cast("int"), 1)
    return value.rlike(_DNI) & (letter == expected)


# -- the same rules in Python, for detect() ----------------------------------------------------------

_JAVA_END = "(?:\r\n|[\n\r\u0085\u2028\u2029])?\\Z"


def _java_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` as Java's ``find`` reads it: its final ``$`` also matches before one line
    terminator at the end (Python's only before a final ``\\n``)."""
    assert pattern.endswith("$") and pattern.count("$") == 1
    return re.compile(pattern[:-1] + _JAVA_END)


_R = {
    name: _java_regex(pattern)
    for name, pattern in {
        "email": _EMAIL,
        "e164": _E164,
        "international": _INTERNATIONAL,
        "nanp": _NANP,
        "national": _NATIONAL,
        "card": _CARD,
        "card_digits": _CARD_DIGITS,
        "iban": _IBAN,
        "ipv4": _IPV4,
        "ipv6": _IPV6,
        "ssn": _SSN,
        "nino": _NINO,
        "dni": _DNI,
    }.items()
}


def _py_digits(value: str) -> int:
    return sum(1 for c in value if "0" <= c <= "9")


def _py_luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if i % 2 == 1:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return total % 10 == 0


def _py_mod(chars: str, modulus: int) -> int:
    acc = 0
    for char in chars:
        code = ord(char)
        acc = (acc * 100 + (code - 55)) % modulus if code >= 65 else (acc * 10 + code - 48) % modulus
    return acc


def _py_card(v: str) -> bool:
    digits = re.sub("[ -]", "", v)
    return bool(_R["card"].search(v) and _R["card_digits"].search(digits)) and _py_luhn(digits)


def _py_iban(v: str) -> bool:
    compact = v.replace(" ", "")
    return bool(_R["iban"].search(v)) and len(compact) <= 34 and _py_mod(compact[4:44] + compact[:4], 97) == 1


def _py_phone(v: str) -> bool:
    digits = _py_digits(v)
    return bool(
        _R["e164"].search(v)
        or (_R["international"].search(v) and 8 <= digits <= 15)
        or _R["nanp"].search(v)
        or (_R["national"].search(v) and 9 <= digits <= 12)
    )


def _py_dni(v: str) -> bool:
    return bool(_R["dni"].search(v)) and v[-1:] == _DNI_LETTERS[_py_mod(v[:8], 23)]


@dataclass(frozen=True)
class Detector:
    classification: PiiClassification
    masking: MaskingMethod  # what `dataops profile` proposes for a column it finds
    matches: Callable[[Column], Column]  # over every row (the not_contain_pii expectation)
    matches_text: Callable[[str], bool]  # the same rules in Python, over a sample (detect())


DETECTORS: tuple[Detector, ...] = (
    Detector(
        PiiClassification.EMAIL,
        MaskingMethod.HASH,
        lambda v: v.rlike(_EMAIL),
        lambda v: bool(_R["email"].search(v)),
    ),
    Detector(PiiClassification.CREDIT_CARD, MaskingMethod.REDACT, _card, _py_card),
    Detector(PiiClassification.BANK_ACCOUNT, MaskingMethod.REDACT, _iban, _py_iban),
    Detector(
        PiiClassification.NATIONAL_ID,
        MaskingMethod.REDACT,
        lambda v: v.rlike(_SSN) | v.rlike(_NINO) | _dni(v),
        lambda v: bool(_R["ssn"].search(v) or _R["nino"].search(v)) or _py_dni(v),
    ),
    Detector(
        PiiClassification.IP_ADDRESS,
        MaskingMethod.HASH,
        lambda v: v.rlike(_IPV4) | v.rlike(_IPV6),
        lambda v: bool(_R["ipv4"].search(v) or _R["ipv6"].search(v)),
    ),
    Detector(PiiClassification.PHONE, MaskingMethod.PARTIAL, _phone, _py_phone),
)
DETECTABLE = tuple(d.classification for d in DETECTORS)


def value_text(value: Any) -> str | None:
    """A collected value as the Spark detectors see it: cast to a string, spaces trimmed."""
    if value is None:
        return None
    return str(value).strip(" ")


def _value(column: Column) -> Column:
    return F.trim(column.cast("string"))


def looks_like_pii(column: Column, classifications: Iterable[PiiClassification] | None = None) -> Column:
    """True for a value any of the detectors (of ``classifications``, default all) matches."""
    wanted = set(classifications) if classifications is not None else set(DETECTABLE)
    value = _value(column)
    tests = [d.matches(value) for d in DETECTORS if d.classification in wanted]
    return reduce(lambda a, b: a | b, tests, F.lit(False)) & F.coalesce(value != "", F.lit(False))


@dataclass(frozen=True)
class Detection:
    """A column that looks like personal data: its name, what it looks like and how much of it."""

    column: str
    classification: PiiClassification
    ratio: float  # matching share of the sampled non-empty values
    sampled: int  # non-empty values sampled

    @property
    def masking(self) -> MaskingMethod:
        return next(d.masking for d in DETECTORS if d.classification == self.classification)


def candidate_columns(df: DataFrame) -> list[str]:
    """Columns whose values can hold the detected kinds: strings and integers."""
    return [f.name for f in df.schema.fields if isinstance(f.dataType, StringType | IntegralType)]


def detect(
    df: DataFrame,
    *,
    columns: list[str] | None = None,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    threshold: float = DEFAULT_THRESHOLD,
    rows: int | None = None,
) -> list[Detection]:
    """Columns (of ``columns``, default every string or integer column) where at least
    ``threshold`` of the first ``sample_rows`` rows' non-empty values match one classification;
    the best-matching classification per column. One small Spark job reads the sample; the
    detectors count it in Python. ``rows``: how many rows ``df`` holds, when the caller knows it;
    if that is at most ``sample_rows``, they are read whole in one job (a ``limit`` reads a
    partition, then more, each a job of its own)."""
    names = candidate_columns(df) if columns is None else columns
    if not names:
        return []
    picked = df.select(*[F.col(f"`{n}`") for n in names])
    whole = rows is not None and rows <= sample_rows
    sample = (picked if whole else picked.limit(sample_rows)).collect()
    found = []
    for i, name in enumerate(names):
        # each distinct value is tested once and counted as often as it occurs
        values = Counter(t for t in (value_text(row[i]) for row in sample) if t)
        sampled = values.total()
        if not sampled:
            continue
        hits = [sum(n for v, n in values.items() if d.matches_text(v)) for d in DETECTORS]
        ratio, best = max(((h / sampled, j) for j, h in enumerate(hits)), key=lambda r: (r[0], -r[1]))
        if ratio >= threshold and ratio > 0:
            found.append(Detection(name, DETECTORS[best].classification, round(ratio, 4), sampled))
    return found


def pii_columns_snippet(detections: list[Detection]) -> list[dict[str, str]]:
    """DataPolicy ``spec.piiColumns`` entries for what was found (to review, then add to a policy)."""
    return [
        {"column": d.column, "classification": d.classification.value, "masking": d.masking.value}
        for d in detections
    ]
