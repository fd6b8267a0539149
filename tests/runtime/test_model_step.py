"""The model step (ALS) with real local Spark: it beats the popularity baseline on held-out purchases of
the generated shop data (the baseline and the precision are computed here, independently of the
product's own metrics), a retrained model is a new version that leaves the previous one intact and
loadable, and bad parameters are rejected offline with one line naming the field."""

from __future__ import annotations

import copy
import csv
import hashlib
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import DataPipeline
from dataops.api.validation import validate_document
from dataops.cli import main as dataops_main
from dataops.lineage.events import LineageEmitter, make_transport
from dataops.plan.runplan import build_run_plan
from dataops.runtime.spark_job import execute_plan
from dataops.runtime.summary import RunSummary
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.spark

TRANSACTIONS = EXAMPLES / "ecommerce" / "data" / "transactions.csv"
K = 10


def _pipeline(interactions: Path, model_path: Path, out: Path, **model: Any) -> dict[str, Any]:
    return {
        "apiVersion": "dataops.dev/v1alpha1",
        "kind": "DataPipeline",
        "metadata": {"name": "recs"},
        "spec": {
            "sources": [
                {
                    "name": "purchases",
                    "file": {
                        "path": str(interactions),
                        "format": "csv",
                        "options": {"header": "true"},
                        "schema": [
                            {"name": "customer_id", "type": "int"},
                            {"name": "product_id", "type": "int"},
                            {"name": "units", "type": "int"},
                        ],
                    },
                }
            ],
            "transforms": [
                {
                    "name": "recommendations",
                    "model": {
                        "input": "purchases",
                        "path": str(model_path),
                        "als": {
                            "userColumn": "customer_id",
                            "itemColumn": "product_id",
                            "ratingColumn": "units",
                            "rank": 16,
                            "maxIter": 8,
                            "regParam": 0.05,
                            "alpha": 20,
                        },
                        "topK": K,
                        **model,
                    },
                }
            ],
            "sinks": [
                {
                    "name": "recs",
                    "from": "recommendations",
                    "format": "csv",
                    "path": str(out),
                    "mode": "overwrite",
                }
            ],
        },
    }


def _run(spark: SparkSession, doc: dict[str, Any], run_id: str) -> tuple[RunSummary, LineageEmitter]:
    pipeline = DataPipeline.model_validate(doc)
    plan = build_run_plan(name="recs", namespace="shop", spec=pipeline.spec)
    lineage = LineageEmitter(make_transport("none"), job_namespace="shop", job_name="recs")
    summary = execute_plan(spark, plan, run_id=run_id, lineage=lineage)
    assert summary.outcome == "Succeeded", summary.error
    return summary, lineage


def _purchases() -> dict[tuple[int, int], int]:
    units: dict[tuple[int, int], int] = defaultdict(int)
    with TRANSACTIONS.open() as fh:
        for row in csv.DictReader(fh):
            units[(int(row["customer_id"]), int(row["product_id"]))] += int(row["quantity"])
    return units


def _split(seed: int = 11) -> tuple[dict[tuple[int, int], int], set[tuple[int, int]]]:
    """Per customer with at least 5 products, 20% of them held out (at least one)."""
    by_user: dict[int, list[tuple[int, int]]] = defaultdict(list)
    units = _purchases()
    for pair in sorted(units):
        by_user[pair[0]].append(pair)
    rng = random.Random(seed)
    held_out: set[tuple[int, int]] = set()
    for pairs in by_user.values():
        if len(pairs) >= 5:
            held_out.update(rng.sample(pairs, max(1, len(pairs) // 5)))
    return {p: u for p, u in units.items() if p not in held_out}, held_out


def _write_interactions(path: Path, train: dict[tuple[int, int], int]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "product_id", "units"])
        writer.writerows((u, i, n) for (u, i), n in sorted(train.items()))


def _precision(top: Callable[[int], list[int]], users: list[int], held_out: set[tuple[int, int]]) -> float:
    hits = sum(1 for user in users for item in top(user)[:K] if (user, item) in held_out)
    return hits / (K * len(users))


def test_recommendations_beat_the_popularity_baseline(spark: SparkSession, tmp_path: Path) -> None:
    train, held_out = _split()
    interactions = tmp_path / "train.csv"
    _write_interactions(interactions, train)
    out = tmp_path / "recs"
    doc = _pipeline(interactions, tmp_path / "model", out)
    doc["spec"]["sinks"][0]["format"] = "json"
    summary, lineage = _run(spark, doc, "r1")

    recs: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for row in spark.read.json(str(out)).collect():
        recs[row["customer_id"]].append((row["rank"], row["product_id"], row["score"]))
    seen: dict[int, set[int]] = defaultdict(set)
    for user, item in train:
        seen[user].add(item)
    # every customer gets exactly k ranked, new products, best score first
    assert set(recs) == set(seen)
    for user, rows in recs.items():
        rows.sort()
        assert [r for r, _, _ in rows] == list(range(1, K + 1)), user
        assert not {item for _, item, _ in rows} & seen[user]
        scores = [s for _, _, s in rows]
        assert scores == sorted(scores, reverse=True)

    # independent evaluation on the held-out purchases
    popularity = Counter(item for _, item in train)  # customers who bought it
    ranked = sorted(popularity, key=lambda item: (-popularity[item], item))
    users = sorted({user for user, _ in held_out if user in seen})
    assert len(users) > 100

    def baseline(user: int) -> list[int]:
        return [item for item in ranked if item not in seen[user]][:K]

    def model(user: int) -> list[int]:
        return [item for _, item, _ in sorted(recs[user])]

    model_precision = _precision(model, users, held_out)
    baseline_precision = _precision(baseline, users, held_out)
    print(f"precision@{K}: ALS {model_precision:.4f}, popularity {baseline_precision:.4f}")
    assert model_precision > 1.3 * baseline_precision, (model_precision, baseline_precision)

    # the product's own held-out metrics point the same way and reach the summary and lineage
    metrics = summary.models["recommendations"]["metrics"]
    assert isinstance(metrics, dict)
    assert metrics[f"precisionAt{K}"] > metrics[f"baselinePrecisionAt{K}"] > 0
    assert metrics["rmse"] is not None and metrics["rmse"] > 0
    assert metrics["evaluatedUsers"] > 0 and metrics["testInteractions"] > 0
    complete = lineage.events[-1]
    model_output = next(o for o in complete["outputs"] if o["name"] == str(tmp_path / "model"))
    facet = model_output["facets"]["dataopsModel"]
    assert facet["version"] == "v1" and facet["algorithm"] == "als"
    assert facet["metrics"][f"precisionAt{K}"] == metrics[f"precisionAt{K}"]
    assert facet["parameters"]["rank"] == 16 and facet["parameters"]["topK"] == K
    assert model_output["facets"]["version"]["datasetVersion"] == "v1"


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_retraining_writes_a_new_version_and_keeps_the_previous(spark: SparkSession, tmp_path: Path) -> None:
    train, _ = _split()
    interactions = tmp_path / "train.csv"
    _write_interactions(interactions, dict(list(sorted(train.items()))[:3000]))
    model_path = tmp_path / "models" / "recommender"
    doc = _pipeline(interactions, model_path, tmp_path / "out", evaluation={"testFraction": 0.2})
    doc["spec"]["transforms"][0]["model"]["als"]["maxIter"] = 3

    first, _ = _run(spark, doc, "first")
    assert first.models["recommendations"]["version"] == "v1"
    assert (model_path / "LATEST").read_text().strip() == "v1"
    v1 = _digest(model_path / "v1")
    assert any(name.startswith("userFactors/") for name in v1) and "dataops-model.json" in v1

    changed = copy.deepcopy(doc)
    changed["spec"]["transforms"][0]["model"]["als"]["rank"] = 4  # a different model, same path
    second, _ = _run(spark, changed, "second")
    assert second.models["recommendations"]["version"] == "v2"
    assert (model_path / "LATEST").read_text().strip() == "v2"
    assert _digest(model_path / "v1") == v1  # untouched, byte for byte
    old, new = ALSModel.load(str(model_path / "v1")), ALSModel.load(str(model_path / "v2"))
    assert (old.rank, new.rank) == (16, 4)
    assert old.userFactors.count() > 0
    assert "v2" in second.render_table() and "precisionAt10" in second.render_table()


def test_model_step_on_string_ids_fails_naming_the_step_and_field(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "i.csv"
    data.write_text("customer_id,product_id,units\na,1,1\nb,2,1\n")
    doc = _pipeline(data, tmp_path / "m", tmp_path / "o")
    doc["spec"]["sources"][0]["file"]["schema"][0]["type"] = "string"
    plan = build_run_plan(name="recs", namespace="shop", spec=DataPipeline.model_validate(doc).spec)
    summary = execute_plan(spark, plan, run_id="bad")
    assert summary.outcome == "Failed"
    assert summary.error is not None and "\n" not in summary.error
    assert "recommendations" in summary.error and "model.als.userColumn" in summary.error
    assert not (tmp_path / "m").exists()


def _validate(
    doc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = dataops_main(["validate", "-f", str(path)])
    out = capsys.readouterr().out
    return code, [line.strip() for line in out.splitlines() if line.startswith("  ")]


MODEL = ("spec", "transforms", 0, "model")


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DELETE = object()
BAD = [
    ((*MODEL, "als", "rank"), 0, "spec.transforms[0].model.als.rank"),
    ((*MODEL, "als", "maxIter"), 1000, "spec.transforms[0].model.als.maxIter"),
    ((*MODEL, "als", "regParam"), -0.5, "spec.transforms[0].model.als.regParam"),
    ((*MODEL, "als", "alpha"), "high", "spec.transforms[0].model.als.alpha"),
    ((*MODEL, "als", "implicitPrefs"), "yes", "spec.transforms[0].model.als.implicitPrefs"),
    ((*MODEL, "als", "itemColumn"), "customer_id", "spec.transforms[0].model.als.itemColumn"),
    ((*MODEL, "als", "ratingColumn"), "product_id", "spec.transforms[0].model.als.ratingColumn"),
    ((*MODEL, "als", "userColumn"), _DELETE, "spec.transforms[0].model.als.userColumn"),
    ((*MODEL, "als", "bogus"), 1, "spec.transforms[0].model.als.bogus"),
    ((*MODEL, "als"), _DELETE, "spec.transforms[0].model.als"),
    ((*MODEL, "topK"), 0, "spec.transforms[0].model.topK"),
    ((*MODEL, "evaluation"), {"testFraction": 0.9}, "spec.transforms[0].model.evaluation.testFraction"),
    ((*MODEL, "path"), "", "spec.transforms[0].model.path"),
    ((*MODEL, "input"), "nowhere", "spec.transforms"),
    ((*MODEL, "als", "userColumn"), "buyer", "spec.transforms[0].model.als.userColumn"),  # not in the schema
    (("spec", "transforms", 0, "sql"), "SELECT 1", "spec.transforms[0]"),  # both sql and model
    (MODEL, _DELETE, "spec.transforms[0]"),  # neither
]


@pytest.mark.parametrize(("path", "value", "field"), BAD, ids=[b[2] + f"-{i}" for i, b in enumerate(BAD)])
def test_bad_model_parameters_are_rejected_offline(
    path: tuple[Any, ...], value: Any, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _set(_pipeline(Path("/d/i.csv"), Path("/d/m"), Path("/d/o")), path, value)
    code, lines = _validate(doc, tmp_path, capsys)
    assert code == 1
    assert lines and all("\n" not in line for line in lines)
    assert any(line.startswith(field + ":") for line in lines), lines


def test_explicit_feedback_needs_a_rating_column_and_streaming_takes_no_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _pipeline(Path("/d/i.csv"), Path("/d/m"), Path("/d/o"))
    explicit = _set(
        _set(doc, (*MODEL, "als", "implicitPrefs"), False), (*MODEL, "als", "ratingColumn"), _DELETE
    )
    errors = validate_document(explicit)
    assert [e.path for e in errors] == ["spec.transforms[0].model.als.ratingColumn"]
    assert "needs ratingColumn" in str(errors[0])
    streaming = _set(doc, ("spec", "mode"), "Streaming")
    streaming["spec"]["sources"] = [{"name": "purchases", "kafka": {"topic": "t"}}]
    messages = [str(e) for e in validate_document(streaming)]
    assert any("model steps run in Batch pipelines only" in m for m in messages), messages
    later = _set(
        doc,
        ("spec", "transforms"),
        [
            doc["spec"]["transforms"][0]
            | {"model": doc["spec"]["transforms"][0]["model"] | {"input": "later"}},
            {"name": "later", "sql": "SELECT * FROM purchases"},
        ],
    )
    code, lines = _validate(later, tmp_path, capsys)
    assert code == 1 and lines == [
        "spec.transforms[0].model.input: Invalid value: step 'recommendations' reads 'later', which is "
        "declared after it"
    ]
    assert validate_document(doc) == []


def test_status_records_the_model_versions_and_metrics_the_driver_reports() -> None:
    from datetime import UTC, datetime

    from dataops.plan.scheduling import _models

    summary = RunSummary(pipeline="recs", run_id="r1", started=datetime.now(UTC), outcome="Succeeded")
    summary.models["recommendations"] = {
        "step": "recommendations",
        "version": "v3",
        "location": "/m/v3",
        "metrics": {"rmse": 0.5, "precisionAt10": 0.12, "baselinePrecisionAt10": 0.07, "k": 10, "x": None},
    }
    message = summary.termination_message()
    [model] = _models(message)
    assert (model.step, model.version, model.location) == ("recommendations", "v3", "/m/v3")
    assert model.metrics == {"rmse": 0.5, "precisionAt10": 0.12, "baselinePrecisionAt10": 0.07, "k": 10.0}
    assert _models("not json") == [] and _models('{"models": {"s": {"metrics": {"a": "b"}}}}') == []


def test_model_lineage_facets_follow_their_schemas(lineage_validator: Any) -> None:
    from openlineage.client.event_v2 import RunState

    from dataops.lineage.events import DatasetInfo

    emitter = LineageEmitter(make_transport("none"), job_namespace="shop", job_name="recs")
    model = DatasetInfo("file", "/lake/models/recs")
    model.model = {
        "step": "recommendations",
        "algorithm": "als",
        "version": "v2",
        "location": "/lake/models/recs/v2",
        "params": {"rank": 16, "implicitPrefs": True},
        "metrics": {"rmse": 0.5, "precisionAt10": 0.1, "baselinePrecisionAt10": 0.05},
    }
    event = emitter.emit(RunState.COMPLETE, run_id="r", inputs=[], outputs=[model])
    facets = event["outputs"][0]["facets"]
    assert facets["version"]["datasetVersion"] == "v2"
    assert facets["dataopsModel"]["metrics"]["precisionAt10"] == 0.1
    assert "ModelDatasetFacet.json" in facets["dataopsModel"]["_schemaURL"]
    assert lineage_validator.errors(event) == []
    model.model["version"] = 3  # a wrong type is caught by the facet's schema
    broken = emitter.emit(RunState.COMPLETE, run_id="r", inputs=[], outputs=[model])
    broken["outputs"][0]["facets"]["dataopsModel"]["version"] = 3
    assert lineage_validator.errors(broken)
