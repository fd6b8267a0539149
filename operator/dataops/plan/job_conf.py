"""Spark settings every session that runs a pipeline's work shares: a driver pod's (through its
Spark properties) and a local one's (``dataops run``, validator pods, tests). Pure."""

from __future__ import annotations

JOB_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Filters stay above text scans so a scan's row count is the rows read, not the rows kept.
    "spark.sql.csv.filterPushdown.enabled": "false",
    "spark.sql.json.filterPushdown.enabled": "false",
    # PySpark's DataFrame debugging records each Column call's Python call site in the JVM: ten
    # more Py4J round trips per call (a 10-expectation suite: ~1,300 of them, 0.2 s). The call
    # sites only feed the query-context loggers runtime.spark_logging silences.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}

DELTA_SNAPSHOT_PARTITIONS = "spark.databricks.delta.snapshotPartitions"


def delta_snapshot_conf(task_slots: int) -> dict[str, str]:
    """Delta rebuilds a table's state (its files and ``txnAppId`` versions) in 50 partitions by
    default: 50 tasks for a log of a few actions. Delta 4.0 rebuilds it for every write with
    ``txnAppId``/``txnVersion``, i.e. every streaming micro-batch: two jobs of 51-52 tasks, 2.5 s of a
    3 s append of 700 rows on 2 cores. One partition per task slot of the job does the same work in
    one wave (a spec's ``sparkConf`` can still set more, for a log of millions of files)."""
    return {DELTA_SNAPSHOT_PARTITIONS: str(max(1, task_slots))}
