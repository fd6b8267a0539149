"""The driver's own Spark log output, without the data values failures carry.

A failing task makes Spark log its exception (``ERROR Executor: Exception in task ...`` with
``[CAST_INVALID_INPUT] The value 'alice@x.org' ...``), and PySpark logs the same message as JSON.
``scrub_spark_logs`` re-configures the driver JVM's log4j2 (which, in local mode, also logs for the
executors) with one console appender on stderr whose message *and* exception text go through the
same replacements as ``error_text.scrub_values``; the root level stays what it was. PySpark's
query-context loggers, which only repeat the error a run reports itself (scrubbed), are silenced.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from pyspark.sql import SparkSession

# The replacements of error_text.scrub_values, as nested log4j2 %replace converters (Java regex).
_SCRUBBERS = [
    ("'[^']*'", "'&lt;value&gt;'"),
    ("(?i)(the value )[^ ]+( of the type)", "$1&lt;value&gt;$2"),
    ("(NUMERIC_VALUE_OUT_OF_RANGE[^\\]]*\\] *)[^ ]+( cannot be represented)", "$1&lt;value&gt;$2"),
    ("(record parsing: ).*?([.] *Parse Mode)", "$1&lt;value&gt;$2"),
]
_QUERY_CONTEXT_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


def _scrubbed(converter: str) -> str:
    for regex, substitution in _SCRUBBERS:
        converter = f"%replace{{{converter}}}{{{regex}}}{{{substitution}}}"
    return converter


def log4j2_config() -> str:
    """A log4j2 XML configuration: stderr, every message and exception scrubbed of values."""
    pattern = f"%d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: {_scrubbed('%m')}%n{_scrubbed('%ex')}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="error">
  <Appenders>
    <Console name="console" target="SYSTEM_ERR">
      <PatternLayout alwaysWriteExceptions="false" pattern="{pattern}"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="warn"><AppenderRef ref="console"/></Root>
  </Loggers>
</Configuration>
"""


def scrub_spark_logs(spark: SparkSession) -> None:
    """Route the driver JVM's log4j2 output through the scrubbing layout; silence PySpark's
    query-context loggers."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    log_manager = jvm.org.apache.logging.log4j.LogManager
    level = log_manager.getRootLogger().getLevel()
    with tempfile.NamedTemporaryFile("w", prefix="dataops-log4j2-", suffix=".xml", delete=False) as handle:
        handle.write(log4j2_config())
    context = log_manager.getContext(False)
    context.setConfigLocation(jvm.java.net.URI(Path(handle.name).as_uri()))
    jvm.org.apache.logging.log4j.core.config.Configurator.setRootLevel(level)
    Path(handle.name).unlink(missing_ok=True)
    _silence_query_context_loggers()


def _silence_query_context_loggers() -> None:
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # a PySpark without structured logging logs no query context
        return
    for name in _QUERY_CONTEXT_LOGGERS:
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
