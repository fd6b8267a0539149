"""The Hadoop file system of a location, as Spark sees it (local paths, s3a://, gs://, abfss://)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession


def hadoop_fs(spark: SparkSession, location: str) -> tuple[Any, Any]:
    """(FileSystem, Path) of ``location`` with the session's Hadoop configuration."""
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path
