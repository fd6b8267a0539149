"""Malformed records of csv and json sources: fail, drop and count, or quarantine (``onMalformed``).

A record is malformed when it does not parse against the source's schema (declared, or inferred
when none is declared): a csv line with more or fewer fields, a value that is not of its column's
type, a json line that is not an object. Spark's PERMISSIVE parser sets the corrupt-record column
for those; the others are passed on.

- Fail: the malformed records are counted before any step runs; one fails the run naming the source
  and a file (never the record: it may hold personal data). Nothing is staged or written.
- Drop: they are removed and counted while the run reads the source (no extra scan).
- Quarantine: they are written, with their file, as JSON lines under ``quarantinePath/<run>/``
  (one extra scan of the source's malformed records) and removed. Refused (before any record is
  read) when a DataPolicy of the run classifies a column of the source: the raw record would keep
  that column's values in clear.

Fail and Quarantine cache the parsed source (memory, then disk), so the check costs no second parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, DataFrameReader, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from dataops.api.v1alpha1.datapipeline import FileFormat, FileSource, MalformedPolicy
from dataops.policy.masking import MaskingRule
from dataops.policy.quarantine import quarantine_refusal
from dataops.runtime.errors import SourceError

CORRUPT = "__dataops_malformed"
PARSED_FORMATS = (FileFormat.CSV, FileFormat.JSON)


@dataclass
class MalformedCounts:
    """Malformed records per source, read back after the run's jobs ran (Drop counts as it reads)."""

    policies: dict[str, MalformedPolicy] = field(default_factory=dict)
    rules: list[MaskingRule] = field(default_factory=list)  # the run's masking: refuses quarantining them
    quarantine: dict[str, str] = field(default_factory=dict)
    _counted: dict[str, int] = field(default_factory=dict)
    _observed: dict[str, Observation] = field(default_factory=dict)
    _cached: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        """Drop the cached parses. Spark reuses a cached plan for an equal one, so a later run of the
        same files in this session would otherwise read the old cache instead of the files."""
        for df in self._cached:
            df.unpersist()
        self._cached.clear()

    def rows(self, source: str) -> int | None:
        if source in self._counted:
            return self._counted[source]
        observation = self._observed.get(source)
        if observation is None:
            return None
        value = observation.get.get("malformed")
        return int(value) if value is not None else None

    def to_json(self, *, read_through: bool) -> dict[str, dict[str, object]]:
        """Per source: policy, rows and quarantine. Drop's counts only when the run read its sources
        through (``read_through``): before that, reading them would wait for a job that never runs."""
        out: dict[str, dict[str, object]] = {}
        for source, policy in self.policies.items():
            if source not in self._counted and not read_through:
                continue
            rows = self.rows(source)
            if rows is None:
                continue
            entry: dict[str, object] = {"policy": policy.value, "rows": rows}
            if source in self.quarantine:
                entry["quarantine"] = self.quarantine[source]
            out[source] = entry
        return out


def _schema_with_corrupt_column(spark: SparkSession, reader: DataFrameReader, spec: FileSource) -> StructType:
    from dataops.runtime.io import ddl_schema

    if spec.schema_:
        declared = spark.createDataFrame([], ddl_schema(spec.schema_)).schema
    else:
        declared = reader.load(spec.path).schema  # inference (inferSchema, samplingRatio apply)
    fields = [f for f in declared.fields if f.name != CORRUPT]
    return StructType([*fields, StructField(CORRUPT, StringType(), True)])


def read_parsed(
    spark: SparkSession,
    name: str,
    spec: FileSource,
    counts: MalformedCounts,
    *,
    run_id: str,
    keep_cached: bool = True,
) -> DataFrame:
    """The well-formed records of a csv or json source; malformed ones are handled per policy.

    ``keep_cached=False`` (a streaming job's lookup sources, re-read every micro-batch): the parse is
    cached only while checking, and the rows returned are read from the files each time."""
    reader = spark.read.format(spec.format.value).options(**spec.options)
    schema = _schema_with_corrupt_column(spark, reader, spec)
    parsed = (
        reader.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .load(spec.path)
    )
    data_columns = [c for c in parsed.columns if c != CORRUPT]
    counts.policies[name] = spec.on_malformed
    if spec.on_malformed == MalformedPolicy.QUARANTINE:  # on the inferred schema too, before any is kept
        refused = quarantine_refusal(name, data_columns, counts.rules)
        if refused is not None:
            raise SourceError(name, f"onMalformed: {refused}")
    bad = F.col(CORRUPT).isNotNull()
    if spec.on_malformed == MalformedPolicy.DROP:
        observation = Observation(f"malformed_{name}")
        observed = parsed.observe(
            observation,
            F.sum(F.when(bad, 1).otherwise(0)).alias("malformed"),
            # every column stays read: with fewer, Spark's csv parser misses lines with extra fields
            F.max(F.hash(*data_columns)).alias("all_columns"),
        )
        counts._observed[name] = observation
        return observed.where(~bad).select(*data_columns)
    # Spark refuses queries of the corrupt column alone on the raw files; on a cached parse it may.
    # The file name is taken while reading (a cached row no longer knows its file).
    cached = parsed.withColumn("__file", F.input_file_name()).persist(StorageLevel.MEMORY_AND_DISK)
    counts._cached.append(cached)
    malformed = cached.where(bad)
    if spec.on_malformed == MalformedPolicy.FAIL:
        found = malformed.select("__file").groupBy("__file").count().orderBy(F.desc("count")).collect()
        total = sum(int(r["count"]) for r in found)
        counts._counted[name] = total
        if total:
            files = ", ".join(str(r["__file"]) for r in found[:3]) + (", ..." if len(found) > 3 else "")
            raise SourceError(
                name,
                f"{total:,} malformed record(s) (not parsable against the "
                f"{'declared' if spec.schema_ else 'inferred'} schema) in {files}; set onMalformed to Drop "
                "or Quarantine to skip them",
            )
    else:
        assert spec.quarantine_path is not None
        where = f"{spec.quarantine_path.rstrip('/')}/{run_id}"
        observation = Observation(f"quarantine_{name}")
        rows = malformed.select(
            F.col(CORRUPT).alias("record"), F.col("__file").alias("file"), F.lit(name).alias("source")
        )
        rows.observe(observation, F.count(F.lit(1)).alias("rows")).coalesce(1).write.mode("overwrite").json(
            where
        )
        counts._counted[name] = int(observation.get.get("rows") or 0)
        counts.quarantine[name] = where
    if keep_cached:
        return cached.where(~bad).select(*data_columns)
    cached.unpersist()
    counts._cached.remove(cached)
    return parsed.where(~bad).select(*data_columns)
