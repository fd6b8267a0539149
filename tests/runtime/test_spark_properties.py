"""spark.properties as the JVM reads it: java.util.Properties (what spark-submit's --properties-file
uses) sees exactly the keys and values the operator wrote, whatever characters they carry."""

from __future__ import annotations

from pyspark.sql import SparkSession

from dataops.plan.spark_driver import properties_line

HOSTILE = {
    "spark.kubernetes.executor.annotation.note": "x\nspark.kubernetes.namespace=kube-system",
    "spark.kubernetes.executor.label.a=b": "c:d",
    "spark.kubernetes.executor.annotation.path": "C:\\temp\\",
    "spark.kubernetes.executor.annotation.z": "ends with a continuation \\",
    "#not-a-comment": "!neither",
    "spark.kubernetes.executor.annotation.cr": "a\rspark.master=local",
    "spark.kubernetes.executor.annotation.tab": "\tx\fy\x01z",
    "spark.kubernetes.executor.annotation.utf8": "naïve ☃",
    "key with spaces": "value = with : separators",
    "spark.app.name": "orders",
}


def test_java_properties_read_back_exactly_what_was_written(spark: SparkSession) -> None:
    text = "".join(properties_line(k, v) for k, v in sorted(HOSTILE.items()))
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    props = jvm.java.util.Properties()
    props.load(jvm.java.io.StringReader(text))
    read = {str(k): str(props.getProperty(k)) for k in props.stringPropertyNames()}
    assert read == HOSTILE
