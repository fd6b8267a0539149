"""The Python detectors (used by detect(): runs, `dataops profile`) give the Spark detectors' answer
(used by the not_contain_pii expectation) for every value and classification: hand-picked valid
values, near misses, line terminators, integers and a few thousand generated strings."""

from __future__ import annotations

import random
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapolicy import PiiClassification
from dataops.quality.pii import DETECTORS, _value, detect, value_text

HAND_PICKED = [
    # email
    "alice@example.com",
    "bob.smith+x@mail.co.uk",
    "c@d.org",
    "a@b.c",
    "a@@b.com",
    "a@b.com\n",
    "a@b.com\r",
    "a@b.com\r\n",
    "a@b.com\n\n",
    "a@b.com\u2028",
    " a@b.com ",
    "\ta@b.com",
    "ä@b.com",
    "a@b.co\u0085",
    # phone
    "+14155550123",
    "(415) 555-0123",
    "+44 20 7946 0958",
    "415-555-0123",
    "030 1234567",
    "01 23 45 67 89",
    "+1",
    "+123456789012345678",
    "(115) 555-0123",
    "0 1",
    "030/1234567",
    "+49 (0)30 1234567",
    # credit card
    "4111 1111 1111 1111",
    "378282246310005",
    "5555555555554444",
    "4111111111111112",
    "4000-0000-0000-0002",
    "1234567812345678",
    "4111 1111 1111 111",
    "6011111111111117",
    "30569309025904",
    # IBAN
    "DE89 3704 0044 0532 0130 00",
    "GB82WEST12345698765432",
    "FR1420041010050500013M02606",
    "DE89 3704 0044 0532 0130 01",
    "XX00 1234",
    "de89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "NO9386011117947",
    "NO9386011117948",
    # IP
    "192.168.0.1",
    "256.1.1.1",
    "2001:db8::1",
    "fe80:0:0:0:200:f8ff:fe21:67cf",
    "::1",
    "::",
    "1.2.3",
    "01.2.3.4",
    "1:2:3:4:5:6:7:8:9",
    "gggg::1",
    # national ids
    "123-45-6789",
    "000-12-3456",
    "666-12-3456",
    "900-12-3456",
    "123-00-6789",
    "123-45-0000",
    "123 45 6789",
    "123-45 6789",
    "AB123456C",
    "AB 12 34 56 C",
    "BG123456C",
    "AB123456E",
    "12345678Z",
    "12345678-Z",
    "12345678A",
    "00000000T",
    "99999999R",
    # other text and numbers
    "2024-01-01",
    "05.11.2024",
    "1.2.3",
    "12:30:45",
    "hello",
    "",
    " ",
    "4111111111111111",
    "٤١١١١١١١١١١١١١١١",
]


def _generated(rng: random.Random, count: int) -> list[str]:
    alphabet = "0123456789 -+().:@/ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef\n\r"
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) for _ in range(count)]
    # Mutations of valid values: one character changed, dropped or doubled.
    valid = [v for v in HAND_PICKED if v.strip()]
    for _ in range(count):
        v = list(rng.choice(valid))
        i = rng.randrange(len(v))
        op = rng.randrange(3)
        if op == 0:
            v[i] = rng.choice(alphabet)
        elif op == 1:
            del v[i]
        else:
            v.insert(i, v[i])
        values.append("".join(v))
    return values


def _spark_verdicts(spark: SparkSession, values: list[Any], kind: str) -> list[dict[str, bool]]:
    df = spark.createDataFrame([(i, v) for i, v in enumerate(values)], f"i int, v {kind}")
    value = _value(F.col("v"))
    columns = [F.coalesce(d.matches(value), F.lit(False)).alias(d.classification.value) for d in DETECTORS]
    rows = df.select("i", *columns).orderBy("i").collect()
    return [{d.classification.value: bool(r[d.classification.value]) for d in DETECTORS} for r in rows]


def _python_verdicts(values: list[Any]) -> list[dict[str, bool]]:
    out = []
    for v in values:
        text = value_text(v)
        out.append({d.classification.value: text is not None and d.matches_text(text) for d in DETECTORS})
    return out


def _compare(spark: SparkSession, values: list[Any], kind: str) -> int:
    spark_side = _spark_verdicts(spark, values, kind)
    python_side = _python_verdicts(values)
    differences = [(v, s, p) for v, s, p in zip(values, spark_side, python_side, strict=True) if s != p]
    assert not differences, differences[:5]
    return sum(any(s.values()) for s in spark_side)


def test_hand_picked_values_get_the_same_verdict(spark: SparkSession) -> None:
    hits = _compare(spark, HAND_PICKED, "string")
    assert hits >= 40, "the corpus should hold many real matches"


def test_generated_values_get_the_same_verdict(spark: SparkSession) -> None:
    rng = random.Random(1127)
    values = _generated(rng, 2000)
    hits = _compare(spark, values, "string")
    assert hits >= 50, f"only {hits} generated values matched a detector: the test proves little"


def test_integers_get_the_same_verdict(spark: SparkSession) -> None:
    values = [
        4111111111111111,
        378282246310005,
        14155550123,
        4155550123,
        3012345678,
        0,
        -4111111111111111,
        12345678,
    ]
    _compare(spark, values, "long")


def test_detect_reports_the_same_columns_as_counting_in_spark(spark: SparkSession) -> None:
    """detect() (Python over the sample) against the share each classification has in Spark."""
    rng = random.Random(7)
    emails = [f"user{i}@example.com" for i in range(90)] + ["n/a"] * 10
    cards = ["4111 1111 1111 1111"] * 70 + ["1234"] * 30
    mixed = [rng.choice(HAND_PICKED) for _ in range(100)]
    df = spark.createDataFrame(
        list(zip(emails, cards, mixed, strict=True)), "email string, card string, mixed string"
    )
    found = {d.column: (d.classification, d.ratio) for d in detect(df, threshold=0.6)}
    assert found["email"] == (PiiClassification.EMAIL, 0.9)
    assert found["card"] == (PiiClassification.CREDIT_CARD, 0.7)
    assert "mixed" not in found
    # read whole in one job when the caller says the data fits the sample: the same verdicts
    assert detect(df, threshold=0.6, rows=100) == detect(df, threshold=0.6)
    # more rows than the sample: still only the first sample_rows are counted
    first_half = {d.column: d.ratio for d in detect(df, threshold=0.6, sample_rows=50, rows=100)}
    assert first_half == {"email": 1.0, "card": 1.0}
