"""SparkSession for local runs (`dataops run`, tests) with Delta Lake and the JDBC drivers."""

from __future__ import annotations

import os
from pathlib import Path

from pyspark.sql import SparkSession

from dataops.plan.job_conf import DELTA_SNAPSHOT_PARTITIONS, JOB_CONF, delta_snapshot_conf
from dataops.runtime.spark_logging import scrub_spark_logs

DEFAULT_CONF = {
    **JOB_CONF,
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
}


def runtime_jars() -> list[str]:
    """Extra jars from DATAOPS_SPARK_JARS (a folder) or the cache filled by hack/install-jars.sh."""
    folder = Path(
        os.environ.get("DATAOPS_SPARK_JARS", str(Path.home() / ".cache" / "dataops" / "jars" / "spark"))
    )
    return sorted(str(p) for p in folder.glob("*.jar")) if folder.is_dir() else []


def local_session(
    *, master: str = "local[*]", app_name: str = "dataops", conf: dict[str, str] | None = None
) -> SparkSession:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(app_name)
    jars = runtime_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if DELTA_SNAPSHOT_PARTITIONS not in (conf or {}):  # local mode: one task slot per core
        for key, value in delta_snapshot_conf(spark.sparkContext.defaultParallelism).items():
            spark.conf.set(key, value)
    scrub_spark_logs(spark)  # a failing task's values never reach the console
    spark.sparkContext.setLogLevel("ERROR")
    return spark
