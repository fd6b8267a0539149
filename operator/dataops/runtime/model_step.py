"""The model step: Spark MLlib ALS trained on a dataset of the run, evaluated on held-out interactions
against a popularity baseline, saved as a new version, and scored into top-k recommendations.

Evaluation is honest: a seeded random split of the (user, item) interactions; the model and the
baseline (the items most users bought in the training part) are trained on the same training part
and scored on the same users (those of the held-out part that also occur in training) with the same
rule (items the user had in training are left out when ``excludeSeen``). The published model is
then trained on all interactions with the same parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.ml.evaluation import RegressionEvaluator
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ByteType, IntegerType, LongType, ShortType

from dataops.api.v1alpha1.datapipeline import AlsParams, ModelStep
from dataops.runtime.errors import StepError

INTEGER_TYPES = (ByteType, ShortType, IntegerType, LongType)
MAX_SEEN_EXTRA = 1000  # candidates fetched beyond k to leave out items a user already has


@dataclass
class ModelResult:
    """What the run reports about one model step (summary, status, lineage, MLflow)."""

    step: str
    algorithm: str
    path: str
    params: dict[str, Any]
    metrics: dict[str, float | int | None] = field(default_factory=dict)
    version: str | None = None  # v<N>, once saved
    location: str | None = None  # <path>/v<N>, once saved

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "algorithm": self.algorithm,
            "path": self.path,
            "version": self.version,
            "location": self.location,
            "params": self.params,
            "metrics": self.metrics,
        }


@dataclass
class TrainedModel:
    result: ModelResult
    model: ALSModel
    scored: DataFrame  # user, item, rank, score


def als_params(als: AlsParams) -> dict[str, Any]:
    return als.model_dump(by_alias=True, exclude_none=True, mode="json")


def _check_columns(df: DataFrame, step: str, als: AlsParams) -> None:
    types = {f.name: f.dataType for f in df.schema.fields}
    for role, column in (("userColumn", als.user_column), ("itemColumn", als.item_column)):
        if column not in types:
            raise StepError(
                step, f"model.als.{role}: column {column!r} not found (columns: {', '.join(types)})"
            )
        if not isinstance(types[column], INTEGER_TYPES):
            raise StepError(
                step,
                f"model.als.{role}: column {column!r} is {types[column].simpleString()}; "
                "ALS needs integer ids",
            )
    if als.rating_column is not None and als.rating_column not in types:
        raise StepError(step, f"model.als.ratingColumn: column {als.rating_column!r} not found")


def interactions(df: DataFrame, als: AlsParams) -> DataFrame:
    """One row per (user, item): the summed (implicit) or averaged (explicit) strength as ``rating``."""
    user, item = F.col(als.user_column).cast("int"), F.col(als.item_column).cast("int")
    strength = F.col(als.rating_column).cast("float") if als.rating_column else F.lit(1.0)
    rows = df.select(user.alias("user"), item.alias("item"), strength.alias("strength")).dropna()
    combine = F.sum if als.implicit_prefs else F.avg
    return rows.groupBy("user", "item").agg(combine("strength").cast("float").alias("rating"))


def _estimator(als: AlsParams, blocks: int) -> ALS:
    return ALS(
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        rank=als.rank,
        maxIter=als.max_iter,
        regParam=als.reg_param,
        alpha=als.alpha,
        implicitPrefs=als.implicit_prefs,
        nonnegative=als.nonnegative,
        seed=als.seed,
        coldStartStrategy="drop",
    )


def top_k(candidates: DataFrame, seen: DataFrame | None, k: int) -> DataFrame:
    """Per user the k best (user, item, score) candidates not in ``seen``, ranked 1..k (ties by item)."""
    if seen is not None:
        candidates = candidates.join(seen.select("user", "item"), ["user", "item"], "left_anti")
    order = Window.partitionBy("user").orderBy(F.col("score").desc(), F.col("item").asc())
    return candidates.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= k)


def model_candidates(model: ALSModel, users: DataFrame | None, n: int) -> DataFrame:
    """(user, item, score): the model's n best items per user (all users when ``users`` is None)."""
    recs = model.recommendForAllUsers(n) if users is None else model.recommendForUserSubset(users, n)
    exploded = recs.select("user", F.explode("recommendations").alias("r"))
    return exploded.select(
        "user", F.col("r.item").alias("item"), F.col("r.rating").cast("float").alias("score")
    )


def popularity_candidates(train: DataFrame, users: DataFrame, n: int) -> DataFrame:
    """(user, item, score): the n items most users have in ``train``, the same list for every user."""
    popular = (
        train.groupBy("item")
        .agg(F.countDistinct("user").cast("float").alias("score"))
        .orderBy(F.col("score").desc(), F.col("item").asc())
        .limit(n)
    )
    return users.crossJoin(F.broadcast(popular))


def precision_at_k(recommended: DataFrame, held_out: DataFrame, users: int, k: int) -> float | None:
    """Hits of the top-k lists in the held-out interactions over k per evaluated user."""
    if users == 0:
        return None
    hits = recommended.join(held_out.select("user", "item"), ["user", "item"]).count()
    return hits / (k * users)


def _candidate_count(train: DataFrame, items: int, k: int, exclude_seen: bool) -> int:
    if not exclude_seen:
        return min(items, k)
    most_seen = train.groupBy("user").count().agg(F.max("count")).first()
    extra = int(most_seen[0] or 0) if most_seen else 0
    return max(1, min(items, k + min(extra, MAX_SEEN_EXTRA)))


def evaluate(data: DataFrame, spec: ModelStep) -> dict[str, float | int | None]:
    """RMSE and precision@k of ALS against the popularity baseline on a held-out split."""
    als, k = spec.als, spec.top_k
    train, test = data.randomSplit(
        [1.0 - spec.evaluation.test_fraction, spec.evaluation.test_fraction], seed=spec.evaluation.seed
    )
    train = train.persist(StorageLevel.MEMORY_AND_DISK)
    test = test.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        model = _estimator(als, _blocks(train)).fit(train)
        predictions = model.transform(test)  # coldStartStrategy=drop: pairs the model can score
        label = F.col("rating") if not als.implicit_prefs else (F.col("rating") > 0).cast("float")
        scored = predictions.withColumn("label", label)
        rmse = (
            RegressionEvaluator(metricName="rmse", labelCol="label", predictionCol="prediction").evaluate(
                scored
            )
            if scored.limit(1).count()
            else None
        )
        users = test.select("user").distinct().join(train.select("user").distinct(), "user")
        users = users.persist(StorageLevel.MEMORY_AND_DISK)
        evaluated_users = users.count()
        items = train.select("item").distinct().count()
        n = _candidate_count(train, items, k, spec.exclude_seen)
        seen = train if spec.exclude_seen else None
        model_top = top_k(model_candidates(model, users, n), seen, k)
        baseline_top = top_k(popularity_candidates(train, users, n), seen, k)
        model_precision = precision_at_k(model_top, test, evaluated_users, k)
        baseline_precision = precision_at_k(baseline_top, test, evaluated_users, k)
        metrics: dict[str, float | int | None] = {
            "rmse": _round(rmse),
            f"precisionAt{k}": _round(model_precision),
            f"baselinePrecisionAt{k}": _round(baseline_precision),
            "k": k,
            "trainInteractions": train.count(),
            "testInteractions": test.count(),
            "evaluatedUsers": evaluated_users,
        }
        users.unpersist()
        return metrics
    finally:
        train.unpersist()
        test.unpersist()


def _blocks(data: DataFrame) -> int:
    """ALS partitions users and items into blocks: as many as the cluster runs tasks at once, at most
    Spark's default of 10 (fewer, smaller tasks on a small local session)."""
    return max(1, min(10, data.sparkSession.sparkContext.defaultParallelism))


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def train_and_score(spark: SparkSession, *, step: str, spec: ModelStep) -> TrainedModel:
    """Evaluate on a held-out split, train on everything, and score each user's top-k."""
    source = spark.table(spec.input)
    _check_columns(source, step, spec.als)
    data = interactions(source, spec.als).persist(StorageLevel.MEMORY_AND_DISK)
    total = data.count()
    if total == 0:
        raise StepError(step, f"model input {spec.input!r} has no interactions to train on")
    result = ModelResult(step=step, algorithm="als", path=spec.path, params=_params(spec))
    result.metrics = evaluate(data, spec)
    model = _estimator(spec.als, _blocks(data)).fit(data)
    users = data.select("user").distinct().count()
    items = data.select("item").distinct().count()
    result.metrics.update({"interactions": total, "users": users, "items": items})
    n = _candidate_count(data, items, spec.top_k, spec.exclude_seen)
    best = top_k(model_candidates(model, None, n), data if spec.exclude_seen else None, spec.top_k)
    scored = best.select(
        F.col("user").alias(spec.als.user_column),
        F.col("item").alias(spec.als.item_column),
        F.col("rank").cast("int").alias("rank"),
        F.col("score").cast("float").alias("score"),
    ).persist(StorageLevel.MEMORY_AND_DISK)
    return TrainedModel(result=result, model=model, scored=scored)


def _params(spec: ModelStep) -> dict[str, Any]:
    return {
        **als_params(spec.als),
        "topK": spec.top_k,
        "excludeSeen": spec.exclude_seen,
        "testFraction": spec.evaluation.test_fraction,
        "evaluationSeed": spec.evaluation.seed,
        "input": spec.input,
    }
