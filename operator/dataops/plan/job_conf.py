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
