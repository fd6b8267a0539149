"""DataPolicy masking on real Spark: the HMAC is RFC 2104, every method does what it says, derived
columns are masked, untraceable ones refused, and planted personal data appears nowhere a run writes."""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import random
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from openlineage.client.event_v2 import RunState
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dataops.api.v1alpha1.datapipeline import DataPipeline, KafkaSource, Sink
from dataops.api.v1alpha1.datapolicy import DataPolicySpec
from dataops.api.v1alpha1.dataqualitysuite import DataQualitySuiteSpec
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.lineage.validate import EventValidator
from dataops.plan.runplan import build_run_plan
from dataops.policy.masking import ColumnMasking, MaskingRule, masking_rules
from dataops.quality.gate import SuiteGateRunner
from dataops.quality.report import render_html
from dataops.runtime.errors import RunError
from dataops.runtime.masking import (
    REDACTED,
    MaskingError,
    apply_masking,
    check_merge_keys,
    hmac_sha256_hex,
    resolve_keys,
)
from dataops.runtime.spark_job import execute_plan, pipeline_emitter
from dataops.runtime.streaming import StreamingRun, StreamingSettings
from dataops.runtime.summary import RunSummary

KEY = b"test-masking-key-\x01"
KEYS = {("mask", "k"): KEY}
PLANTED = {
    "email": ["planted.alice.q7x@leak.test", "planted.bob.z9k@leak.test"],
    "name": ["Zyxwvut Plantedname", "Qwertyuiop Secretsson"],
    "phone": ["+49-151-98765432", "+33-612-34567890"],
    "card": ["4111222233334444", "5500666677778888"],
    "dob": ["1987-06-15", "1990-11-23"],
}
CONTROL = "visible-control-marker"  # not classified: must be found, proving the scan sees data


def _forbidden() -> list[str]:
    """Every planted value and the forms a derivation could leave (upper case, the local part)."""
    values = [v for vs in PLANTED.values() for v in vs]
    values += [v.upper() for v in values] + [v.split("@")[0] for v in PLANTED["email"]]
    values += [v.split()[0] for v in PLANTED["name"]] + ["98765432", "34567890", "06-15", "11-23"]
    return values


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    users = [
        [
            i + 1,
            PLANTED["email"][i],
            PLANTED["name"][i],
            PLANTED["phone"][i],
            PLANTED["card"][i],
            PLANTED["dob"][i],
            CONTROL,
        ]
        for i in range(2)
    ]
    _write_csv(tmp_path / "users.csv", ["id", "email", "full_name", "phone", "card", "dob", "note"], users)
    _write_csv(
        tmp_path / "orders.csv", ["oid", "uid", "amount"], [[100, 1, 9.5], [101, 2, 20.0], [102, 1, 3.0]]
    )
    return tmp_path


POLICY = {
    "pipelineSelector": {"matchLabels": {"team": "crm"}},
    "maskingKey": {"secretName": "mask", "key": "k"},
    "piiColumns": [
        {"column": "email", "classification": "email", "masking": "hash"},
        {"column": ".*name", "pattern": True, "classification": "name", "masking": "redact"},
        {"column": "phone", "classification": "phone", "masking": "partial", "keepLast": 2},
        {"column": "card", "classification": "creditCard", "masking": "tokenize"},
        {"column": "dob", "classification": "dateOfBirth", "masking": "generalize", "generalizeTo": "year"},
    ],
}


def _pipeline(
    tmp: Path, sinks: list[dict[str, Any]], transforms: list[dict[str, Any]], **spec: Any
) -> DataPipeline:
    options = {"header": "true", "inferSchema": "true"}
    return DataPipeline.model_validate(
        {
            "metadata": {"name": "crm", "namespace": "test", "labels": {"team": "crm"}},
            "spec": {
                "sources": [
                    {
                        "name": "users",
                        "file": {"path": str(tmp / "users.csv"), "format": "csv", "options": options},
                    },
                    {
                        "name": "orders",
                        "file": {"path": str(tmp / "orders.csv"), "format": "csv", "options": options},
                    },
                ],
                "transforms": transforms,
                "sinks": sinks,
                **spec,
            },
        }
    )


def _run(
    spark: SparkSession,
    pipeline: DataPipeline,
    *,
    lineage_file: Path,
    suites: dict[str, Any] | None = None,
    policy: dict[str, Any] = POLICY,
) -> tuple[RunSummary, LineageEmitter, SuiteGateRunner | None]:
    rules = masking_rules([("crm-pii", DataPolicySpec.model_validate(policy))])
    plan = build_run_plan(name="crm", namespace="test", spec=pipeline.spec, masking=rules)
    lineage = LineageEmitter(make_transport(f"file:{lineage_file}"), job_namespace="test", job_name="crm")
    runner = (
        SuiteGateRunner({n: DataQualitySuiteSpec.model_validate(s) for n, s in suites.items()})
        if suites
        else None
    )
    summary = execute_plan(spark, plan, run_id="m1", lineage=lineage, gate_runner=runner, masking_keys=KEYS)
    return summary, lineage, runner


def _scan_bytes(root: Path) -> list[tuple[Path, str]]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            hits += [(path, v) for v in _forbidden() if v.encode() in blob]
    return hits


def _leaks(text: str) -> list[str]:
    return [v for v in _forbidden() if v in text]


# -- the primitives ---------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [b"k", b"x" * 64, bytes(range(100)), "schlüssel".encode()])
def test_hash_is_hmac_sha256_as_python_computes_it(spark: SparkSession, key: bytes) -> None:
    rng = random.Random(7)
    alphabet = string.printable + "äöüß€漢字🙂"
    values = [
        "",
        "a",
        *("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 300))) for _ in range(60)),
    ]
    df = spark.createDataFrame([(v,) for v in values] + [(None,)], "v string")
    rows = df.select("v", hmac_sha256_hex(F.col("v").cast("binary"), key).alias("h")).collect()
    for row in rows:
        expected = None if row.v is None else hmac.new(key, row.v.encode(), hashlib.sha256).hexdigest()
        assert row.h == expected
        assert row.v is None or row.h != hashlib.sha256(row.v.encode()).hexdigest()  # never unsalted


def _rule(method: str, **extra: Any) -> MaskingRule:
    from dataops.api.v1alpha1.common import SecretKeySelector

    key = SecretKeySelector(name="mask", key="k") if method in ("hash", "tokenize") else None
    return MaskingRule(policy="p", column="c", classification="other", method=method, key=key, **extra)


def _mask(
    spark: SparkSession, rows: list[tuple[Any, ...]], schema: str, rules: dict[str, MaskingRule]
) -> Any:
    df = spark.createDataFrame(rows, schema)
    decisions = {c: ColumnMasking(column=c, rule=r, named=True) for c, r in rules.items()}
    return apply_masking(df, decisions, KEYS, sink="s")


def test_each_method(spark: SparkSession) -> None:
    import datetime as dt

    rows = [
        (
            "alice@example.com",
            "+4915112345678",
            dt.date(1987, 6, 15),
            dt.datetime(2021, 3, 4, 5, 6),
            "1987-06-15",
            42,
            "x",
        ),
        ("bob", "12", dt.date(2000, 1, 31), dt.datetime(1999, 12, 31, 23, 59), "not a date", 7, "y"),
        (None, None, None, None, None, None, None),
    ]
    schema = "s string, p string, d date, t timestamp, ds string, n int, keep string"
    rules = {
        "s": _rule("redact"),
        "p": _rule("partial", keep_last=4),
        "d": _rule("generalize", generalize_to="month"),
        "t": _rule("generalize"),
        "ds": _rule("generalize"),
        "n": _rule("redact"),
        "keep": _rule("none"),
    }
    out = _mask(spark, rows, schema, rules)
    assert [f.dataType.simpleString() for f in out.schema.fields] == [
        "string",
        "string",
        "date",
        "timestamp",
        "string",
        "int",
        "string",
    ]
    got = [tuple(r) for r in out.collect()]
    assert got[0] == (
        REDACTED,
        "**********5678",
        dt.date(1987, 6, 1),
        dt.datetime(2021, 1, 1),
        "1987",
        None,
        "x",
    )
    assert got[1] == (
        REDACTED,
        "**",
        dt.date(2000, 1, 1),
        dt.datetime(1999, 1, 1),
        None,
        None,
        "y",
    )  # short: all hidden
    assert got[2] == (None,) * 7
    nullified = _mask(spark, rows, schema, {"s": _rule("nullify"), "d": _rule("nullify")})
    assert {(r.s, r.d) for r in nullified.collect()} == {(None, None)}


def test_tokens_are_reversible_by_key_holders_only(spark: SparkSession) -> None:
    values = [("4111222233334444",), ("é-ünïcode",), (None,)]
    out = _mask(spark, values, "c string", {"c": _rule("tokenize")})
    tokens = [r.c for r in out.collect()]
    assert all(t is None or (t not in {v for (v,) in values}) for t in tokens)
    out.createOrReplaceTempView("tokens")
    # what the documentation tells a key holder to run
    decrypted = spark.sql(
        f"SELECT CAST(aes_decrypt(unbase64(c), unhex(sha2('{KEY.decode()}', 256)), 'GCM') AS STRING) AS v "
        "FROM tokens"
    ).collect()
    assert [r.v for r in decrypted] == [v for (v,) in values]
    with pytest.raises(Exception):  # noqa: B017  (GCM authentication fails under another key)
        spark.sql(
            "SELECT CAST(aes_decrypt(unbase64(c), unhex(sha2('other', 256)), 'GCM') AS STRING) FROM tokens"
        ).collect()


def test_key_resolution(tmp_path: Path) -> None:
    rules = masking_rules([("crm-pii", DataPolicySpec.model_validate(POLICY))])
    with pytest.raises(MaskingError, match=r"crm-pii.*Secret 'mask' key 'k'.*DATAOPS_SECRET_MASK_K"):
        resolve_keys(rules, environ={})
    assert resolve_keys(rules, environ={"DATAOPS_SECRET_MASK_K": "a"}) == {("mask", "k"): b"a"}
    assert resolve_keys(rules, environ={"DATAOPS_MASKING_KEY": "b"}) == {("mask", "k"): b"b"}
    assert resolve_keys(rules, environ={}, secrets={("mask", "k"): b"c"}) == {("mask", "k"): b"c"}
    assert resolve_keys([r for r in rules if not r.needs_key], environ={}) == {}


def test_masked_merge_keys_are_refused() -> None:
    sink = Sink.model_validate(
        {
            "name": "s",
            "from": "x",
            "format": "delta",
            "path": "/tmp/x",
            "mode": "merge",
            "mergeKeys": ["card"],
        }
    )
    with pytest.raises(MaskingError, match="merge key 'card' is masked with tokenize"):
        check_merge_keys(sink, {"card": ColumnMasking(column="card", rule=_rule("tokenize"), named=True)})
    check_merge_keys(sink, {"card": ColumnMasking(column="card", rule=_rule("hash"), named=True)})


# -- whole runs ---------------------------------------------------------------------------------


TRANSFORMS = [
    {
        "name": "contacts",
        "sql": "SELECT id, upper(email) AS contact, full_name AS who, phone, card, dob, note FROM users",
    },
    {
        "name": "joined",
        "sql": "SELECT o.oid, o.amount, u.email AS buyer, concat(u.full_name, '!') AS label "
        "FROM orders o JOIN users u ON o.uid = u.id",
    },
    {"name": "everything", "sql": "SELECT * FROM users"},
]


def test_planted_pii_appears_nowhere_a_run_writes(
    spark: SparkSession, data: Path, lineage_validator: EventValidator
) -> None:
    out = data / "out"
    sinks = [
        {"name": "contacts", "from": "contacts", "format": "parquet", "path": str(out / "contacts")},
        {"name": "joined", "from": "joined", "format": "delta", "path": str(out / "joined")},
        {"name": "everything_json", "from": "everything", "format": "json", "path": str(out / "json")},
        {"name": "everything_csv", "from": "everything", "format": "csv", "path": str(out / "csv")},
    ]
    suite = {
        "expectations": [
            # fail on every email and name, so that samples would carry them
            {
                "type": "expect_column_values_to_match_regex",
                "column": "email",
                "regex": "^nomatch$",
                "severity": "warn",
            },
            {
                "type": "expect_column_values_to_be_in_set",
                "column": "full_name",
                "valueSet": ["x"],
                "severity": "warn",
            },
            {
                "type": "expect_column_value_lengths_to_equal",
                "column": "phone",
                "value": 1,
                "severity": "warn",
            },
        ]
    }
    gates = [
        {"suiteRef": {"name": "users-suite"}, "dataset": "users", "action": "warn"},  # unmasked source data
        {"suiteRef": {"name": "sink-suite"}, "dataset": "contacts", "action": "warn"},  # staged, masked
    ]
    sink_suite = {
        "expectations": [
            {
                "type": "expect_column_values_to_be_in_set",
                "column": "contact",
                "valueSet": ["x"],
                "severity": "warn",
            }
        ]
    }
    pipeline = _pipeline(data, sinks, TRANSFORMS, qualityGates=gates, stagingPath=str(out / "_staging"))
    events = data / "lineage.jsonl"
    summary, _lineage, runner = _run(
        spark, pipeline, lineage_file=events, suites={"users-suite": suite, "sink-suite": sink_suite}
    )
    assert summary.outcome == "Succeeded", summary.error

    # the files: as bytes, and read back as rows
    assert _scan_bytes(out) == []
    assert CONTROL.encode() in b"".join(p.read_bytes() for p in (out / "csv").rglob("*.csv"))
    frames = {
        "contacts": spark.read.parquet(str(out / "contacts")),
        "joined": spark.read.format("delta").load(str(out / "joined")),
        "json": spark.read.json(str(out / "json")),
        "csv": spark.read.option("header", "true").csv(str(out / "csv")),
    }
    for name, frame in frames.items():
        text = json.dumps([r.asDict() for r in frame.collect()], default=str)
        assert _leaks(text) == [], name
        assert name == "joined" or CONTROL in text

    # what the masking did, checked against Python
    contacts = {r.id: r for r in frames["contacts"].collect()}
    alice = contacts[1]
    assert alice.contact == hmac.new(KEY, PLANTED["email"][0].upper().encode(), hashlib.sha256).hexdigest()
    assert alice.who == REDACTED and alice.phone == "**************32" and str(alice.dob).startswith("1987")
    assert alice.card not in PLANTED["card"] and len(alice.card) > 16
    joined = {r.oid: r for r in frames["joined"].collect()}
    # masked keys still join: the same email hashes to the same value wherever it appears
    email_hash = hmac.new(KEY, PLANTED["email"][0].encode(), hashlib.sha256).hexdigest()
    assert joined[100].buyer == joined[102].buyer == email_hash
    assert joined[100].label == REDACTED and joined[100].amount == 9.5

    # the run summary says what was masked and why, without values
    rendered = json.dumps(summary.to_json()) + summary.render_table()
    assert _leaks(rendered) == []
    assert set(summary.masked["contacts"]) == {"contact", "who", "phone", "card", "dob"}
    assert "derived from users.email" in summary.masked["contacts"]["contact"]
    assert summary.masked["joined"]["buyer"].startswith("hash by DataPolicy 'crm-pii'")
    assert summary.warnings and all("<masked" in w or "contact" in w for w in summary.warnings)

    # lineage: valid events, masking transformations and pii tags, no values
    text = events.read_text()
    assert _leaks(text) == []
    complete = [json.loads(line) for line in text.splitlines()][-1]
    assert lineage_validator.errors(complete) == []
    output = next(o for o in complete["outputs"] if o["name"].endswith("contacts"))
    field = output["facets"]["columnLineage"]["fields"]["contact"]
    assert field["inputFields"][0]["field"] == "email"
    assert field["inputFields"][0]["transformations"][0]["masking"] is True
    assert field["transformationType"] == "MASKED"
    tags = output["facets"]["tags"]["tags"]
    assert {"key": "pii", "value": "email", "source": "DataPolicy", "field": "contact"} in tags

    # quality results and the HTML report
    assert runner is not None
    from dataops.api.v1alpha1.dataqualitysuite import ValidationResult

    for where, outcome in runner.outcomes.items():
        samples = [v for o in outcome.results for v in o.unexpected_sample]
        assert (
            samples
            and _leaks(json.dumps(samples, default=str) + repr([o.observed_value for o in outcome.results]))
            == []
        )
        result = ValidationResult.model_validate(
            {
                "runId": "m1",
                "successPercent": outcome.success_percent,
                "success": outcome.success,
                "evaluated": len(outcome.results),
                "failed": len(outcome.failed),
            }
        )
        html = render_html(
            suite=where, namespace="test", dataset="users", result=result, outcomes=outcome.results
        )
        assert _leaks(html) == []
        if where.endswith("on users"):  # clear data checked: placeholders instead of values
            assert "&lt;masked email&gt;" in html and "&lt;masked name&gt;" in html


def test_quarantine_of_a_failed_gate_holds_masked_data(spark: SparkSession, data: Path) -> None:
    out = data / "out"
    sinks = [{"name": "contacts", "from": "contacts", "format": "parquet", "path": str(out / "contacts")}]
    suite = {
        "expectations": [
            {"type": "expect_column_values_to_be_in_set", "column": "contact", "valueSet": ["x"]}
        ]
    }
    pipeline = _pipeline(
        data,
        sinks,
        TRANSFORMS[:1],
        qualityGates=[{"suiteRef": {"name": "s"}, "action": "block"}],
        stagingPath=str(out / "_staging"),
    )
    summary, _, _ = _run(spark, pipeline, lineage_file=data / "l.jsonl", suites={"s": suite})
    assert summary.outcome == "Failed" and summary.quarantine
    assert any((out / "_staging").rglob("*.parquet"))
    assert _scan_bytes(out) == []
    assert _leaks(json.dumps(summary.to_json())) == []


def test_untraceable_derivation_is_refused_before_writing(spark: SparkSession, data: Path) -> None:
    spark.read.option("header", "true").csv(str(data / "users.csv")).createOrReplaceTempView("elsewhere")
    out = data / "out"
    sinks = [{"name": "leaky", "from": "sneaky", "format": "parquet", "path": str(out / "leaky")}]
    transforms = [{"name": "sneaky", "sql": "SELECT email AS contact FROM elsewhere"}]
    summary, _, _ = _run(spark, _pipeline(data, sinks, transforms), lineage_file=data / "l.jsonl")
    assert summary.outcome == "Failed"
    assert "sink 'leaky'" in (summary.error or "") and "column 'contact'" in (summary.error or "")
    assert not out.exists() or _scan_bytes(out) == []
    assert not (out / "leaky").exists()


def test_policies_that_do_not_select_the_pipeline_change_nothing(spark: SparkSession, data: Path) -> None:
    other = {**POLICY, "pipelineSelector": {"matchLabels": {"team": "other"}}}
    from dataops.runtime.local import Governance

    governance = Governance(policies=[("test", "p", DataPolicySpec.model_validate(other))])
    pipeline = _pipeline(data, [{"name": "a", "from": "users", "path": str(data / "o")}], [])
    assert governance.selecting(pipeline) == []
    governance = Governance(
        policies=[
            ("test", "p", DataPolicySpec.model_validate(POLICY)),
            ("elsewhere", "q", DataPolicySpec.model_validate(POLICY)),
        ]
    )
    assert [n for n, _ in governance.selecting(pipeline)] == ["p"]


def test_dataops_run_reads_policies_and_secrets_from_the_files(spark: SparkSession, data: Path) -> None:
    from dataops.runtime.local import load_governance, run_pipeline

    out = data / "out"
    pipeline = _pipeline(
        data, [{"name": "all", "from": "users", "format": "csv", "path": str(out / "all")}], []
    )
    docs = [
        {
            "apiVersion": "dataops.dev/v1alpha1",
            "kind": "DataPolicy",
            "metadata": {"name": "crm-pii", "namespace": "test"},
            "spec": POLICY,
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "mask", "namespace": "test"},
            "stringData": {"k": KEY.decode()},
        },
    ]
    (data / "gov.yaml").write_text(yaml.safe_dump_all(docs))
    governance = load_governance([data / "gov.yaml"])
    summary, _ = run_pipeline(pipeline, master="local[2]", quiet=True, governance=governance)
    assert summary.outcome == "Succeeded", summary.error
    assert _scan_bytes(out) == []
    written = b"".join(p.read_bytes() for p in (out / "all").rglob("*.csv")).decode()
    assert hmac.new(KEY, PLANTED["email"][0].encode(), hashlib.sha256).hexdigest() in written
    assert CONTROL in written
    # without the Secret: refused before Spark runs anything
    (data / "policy.yaml").write_text(yaml.safe_dump(docs[0]))
    with pytest.raises(ValueError, match="no masking key"):
        run_pipeline(pipeline, quiet=True, governance=load_governance([data / "policy.yaml"]))


def test_cli_refuses_without_a_key(data: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    pipeline = _pipeline(
        data, [{"name": "all", "from": "users", "format": "csv", "path": str(data / "o")}], []
    )
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "crm-pii", "namespace": "test"},
        "spec": POLICY,
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump_all([doc, policy]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOPS_")}
    result = subprocess.run(
        [sys.executable, "-m", "dataops.cli", "run", "-f", str(tmp_path / "run.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "no masking key" in result.stderr and "Secret 'mask' key 'k'" in result.stderr
    assert "starting Spark" not in result.stderr and "Traceback" not in result.stderr


# -- streaming: the micro-batch path ------------------------------------------------------------


def test_streaming_batches_are_masked(spark: SparkSession, tmp_path: Path) -> None:
    schema = [
        {"name": "id", "type": "long", "nullable": False},
        {"name": "email", "type": "string"},
        {"name": "note", "type": "string"},
    ]
    pipeline = DataPipeline.model_validate(
        {
            "metadata": {"name": "events", "namespace": "test", "labels": {"team": "crm"}},
            "spec": {
                "mode": "Streaming",
                "sources": [
                    {
                        "name": "events",
                        "kafka": {"topic": "events", "bootstrapServers": "localhost:1", "schema": schema},
                    }
                ],
                "transforms": [{"name": "shaped", "sql": "SELECT id, lower(email) AS who, note FROM events"}],
                "sinks": [
                    {"name": "raw", "from": "events", "format": "delta", "path": str(tmp_path / "raw")},
                    {"name": "shaped", "from": "shaped", "format": "json", "path": str(tmp_path / "shaped")},
                ],
            },
        }
    )
    rules = masking_rules([("crm-pii", DataPolicySpec.model_validate(POLICY))])
    plan = build_run_plan(name="events", namespace="test", spec=pipeline.spec, masking=rules)
    run = StreamingRun(spark, plan, run_id="s1", settings=StreamingSettings(), masking_keys=KEYS)
    decided = run.plan_masking()
    assert set(decided["raw"]) == {"email"} and set(decided["shaped"]) == {"who"}
    values = [json.dumps({"id": i, "email": e, "note": CONTROL}) for i, e in enumerate(PLANTED["email"])]
    batch = spark.createDataFrame(
        [(str(i).encode(), v.encode(), "events", 0, i) for i, v in enumerate(values)],
        "key binary, value binary, topic string, partition int, offset long",
    )
    run.query_id = "query-of-the-checkpoint"  # a started query reads it from <checkpoint>/metadata
    run._process(batch, 0)
    assert _scan_bytes(tmp_path) == []
    raw = spark.read.format("delta").load(str(tmp_path / "raw")).collect()
    assert sorted(r.email for r in raw) == sorted(
        hmac.new(KEY, e.encode(), hashlib.sha256).hexdigest() for e in PLANTED["email"]
    )
    shaped = spark.read.json(str(tmp_path / "shaped")).collect()
    assert {r.note for r in shaped} == {CONTROL} and _leaks(json.dumps([r.asDict() for r in shaped])) == []
    # The streaming job's lineage says which sink columns are masked and why (no values).
    events = tmp_path / "events.jsonl"
    run.lineage = pipeline_emitter(plan, f"file:{events}")
    run._emit(RunState.COMPLETE)
    (event,) = [json.loads(line) for line in events.read_text().splitlines()]
    outputs = {o["name"].rsplit("/", 1)[-1]: o["facets"] for o in event["outputs"]}
    who = outputs["shaped"]["columnLineage"]["fields"]["who"]
    assert who["transformationType"] == "MASKED"
    tags = {(t["key"], t["field"], t["value"]) for t in outputs["raw"]["tags"]["tags"]}
    assert ("pii", "email", "email") in tags or any(k == "pii" and f == "email" for k, f, _ in tags)
    assert _leaks(events.read_text()) == []


def test_streaming_refuses_untraceable_columns(spark: SparkSession, tmp_path: Path) -> None:
    spark.createDataFrame([("a@b.c",)], "email string").createOrReplaceTempView("side_table")
    schema = [{"name": "email", "type": "string"}]
    spec = {
        "mode": "Streaming",
        "sources": [
            {"name": "ev", "kafka": {"topic": "ev", "bootstrapServers": "localhost:1", "schema": schema}}
        ],
        "transforms": [{"name": "mixed", "sql": "SELECT email AS x FROM side_table"}],
        "sinks": [{"name": "out", "from": "mixed", "format": "json", "path": str(tmp_path / "out")}],
    }
    pipeline = DataPipeline.model_validate({"metadata": {"name": "ev"}, "spec": spec})
    rules = masking_rules([("crm-pii", DataPolicySpec.model_validate(POLICY))])
    plan = build_run_plan(name="ev", namespace="test", spec=pipeline.spec, masking=rules)
    run = StreamingRun(spark, plan, run_id="s2", settings=StreamingSettings(), masking_keys=KEYS)
    with pytest.raises(RunError, match="column 'x'"):
        run.plan_masking()
    assert KafkaSource  # the source model is what the batch is shaped like


# -- failures: Spark's error text carries the values it failed on ----------------------------------

FAILING_STEP = [{"name": "bad", "sql": "SELECT id, note FROM users WHERE CAST(email AS INT) > 0"}]


def test_a_failing_step_reports_no_values(spark: SparkSession, data: Path) -> None:
    out = data / "out"
    sinks = [{"name": "all", "from": "bad", "format": "json", "path": str(out / "all")}]
    summary, _, _ = _run(spark, _pipeline(data, sinks, FAILING_STEP), lineage_file=data / "l.jsonl")
    assert summary.outcome == "Failed"
    error = summary.error or ""
    # what failed stays readable: where, the error class, the placeholder instead of the value
    assert "sink 'all'" in error and "CAST_INVALID_INPUT" in error and "<value>" in error, error
    assert _leaks(json.dumps(summary.to_json())) == []
    assert _leaks(summary.render_table()) == []
    assert _leaks((data / "l.jsonl").read_text()) == []  # the lineage FAIL event's error message


def test_a_failing_run_leaks_no_values_to_the_console_or_termination_message(
    data: Path, tmp_path: Path
) -> None:
    """`dataops run` and the driver pod's entry point, each in its own process: stdout, stderr (Spark's
    own log of the failed task included), the termination message and the lineage events."""
    import os
    import subprocess
    import sys

    pipeline = _pipeline(
        data, [{"name": "all", "from": "bad", "format": "json", "path": str(data / "o")}], FAILING_STEP
    )
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "crm-pii", "namespace": "test"},
        "spec": POLICY,
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "mask", "namespace": "test"},
        "stringData": {"k": KEY.decode()},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump_all([doc, policy, secret]))
    rules = masking_rules([("crm-pii", DataPolicySpec.model_validate(POLICY))])
    plan = build_run_plan(name="crm", namespace="test", spec=pipeline.spec, masking=rules)
    (tmp_path / "plan.json").write_text(plan.canonical_json())
    base = {k: v for k, v in os.environ.items() if not k.startswith("DATAOPS_")}
    base["PYSPARK_SUBMIT_ARGS"] = "--master local[1] pyspark-shell"
    driver_env = {
        **base,
        "DATAOPS_PLAN_PATH": str(tmp_path / "plan.json"),
        "DATAOPS_RUN_ID": "r1",
        "DATAOPS_TERMINATION_LOG": str(tmp_path / "termination-log"),
        "DATAOPS_SECRET_MASK_K": KEY.decode(),
        "DATAOPS_LINEAGE_TRANSPORT": f"file:{tmp_path / 'events.jsonl'}",
    }
    commands = [
        (
            [
                sys.executable,
                "-m",
                "dataops.cli",
                "run",
                "-f",
                str(tmp_path / "run.yaml"),
                "--master",
                "local[1]",
            ],
            base,
        ),
        ([sys.executable, "-m", "dataops.runtime.spark_job"], driver_env),
    ]
    running = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for cmd, env in commands
    ]
    for process in running:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 1, stderr[-3000:]
        assert "CAST_INVALID_INPUT" in stdout, stdout  # the failure is reported, its value is not
        assert _leaks(stdout) == [] and _leaks(stderr) == [], (_leaks(stdout), _leaks(stderr))
    termination = (tmp_path / "termination-log").read_text()
    assert "sink 'all'" in termination and "CAST_INVALID_INPUT" in termination, termination
    assert _leaks(termination) == []
    events = (tmp_path / "events.jsonl").read_text()
    assert '"FAIL"' in events and _leaks(events) == []


# -- onMalformed: Quarantine would keep raw records (classified values in clear) --------------------


def _quarantining_pipeline(data: Path, *, schema: list[dict[str, str]] | None = None) -> DataPipeline:
    with (data / "users.csv").open("a") as handle:  # a malformed line: too many fields, a planted value
        handle.write(f"3,{PLANTED['email'][0]},x,y,z,w,v,extra,fields\n")
    pipeline = _pipeline(
        data, [{"name": "all", "from": "users", "format": "csv", "path": str(data / "o")}], []
    )
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    users = doc["spec"]["sources"][0]["file"]
    users.update(onMalformed="Quarantine", quarantinePath=str(data / "quarantine"))
    if schema is not None:
        users["schema"] = schema
        users["options"].pop("inferSchema")
    return DataPipeline.model_validate(doc)


def test_quarantine_of_classified_columns_is_refused_on_the_inferred_schema(
    spark: SparkSession, data: Path
) -> None:
    summary, _, _ = _run(spark, _quarantining_pipeline(data), lineage_file=data / "l.jsonl")
    assert summary.outcome == "Failed"
    assert summary.error is not None and summary.error.startswith("source 'users': onMalformed: Quarantine")
    assert "classified columns email, full_name" in summary.error and "use Drop or Fail" in summary.error
    assert not (data / "quarantine").exists() and not (data / "o").exists()
    assert _leaks(json.dumps(summary.to_json())) == []


def test_dataops_run_refuses_quarantine_of_a_declared_classified_column(data: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    schema = [
        {"name": n, "type": "string"} for n in ("id", "email", "full_name", "phone", "card", "dob", "note")
    ]
    pipeline = _quarantining_pipeline(data, schema=schema)
    doc = pipeline.model_dump(mode="json", by_alias=True, exclude_none=True)
    policy = {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPolicy",
        "metadata": {"name": "crm-pii", "namespace": "test"},
        "spec": POLICY,
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump_all([doc, policy]))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOPS_")}
    result = subprocess.run(
        [sys.executable, "-m", "dataops.cli", "run", "-f", str(tmp_path / "run.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        "error: spec.sources[0].file.onMalformed: Quarantine keeps raw records, which would keep classified "
        "columns email, full_name, phone, card, dob of source 'users' (DataPolicy 'crm-pii') in clear"
    ), result.stderr
    assert "starting Spark" not in result.stderr and "Traceback" not in result.stderr
    assert not (data / "quarantine").exists()
