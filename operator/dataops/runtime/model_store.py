"""Versioned model artefacts: ``<path>/v<N>`` in Spark ML's own format, never overwritten, a
``<path>/v<N>/dataops-model.json`` beside the model (run, parameters, metrics) and ``<path>/LATEST``
naming the newest version. Through Hadoop's FileSystem, so object stores work like folders."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from py4j.protocol import Py4JJavaError  # type: ignore[import-untyped]
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import SparkSession

from dataops.runtime.hadoop import hadoop_fs
from dataops.runtime.model_step import ModelResult

LATEST = "LATEST"
METADATA = "dataops-model.json"
_VERSION = re.compile(r"^v([0-9]+)$")
ATTEMPTS = 5  # a concurrent run may take the same version number: try the next one


def versions(spark: SparkSession, root: str) -> list[int]:
    """The version numbers saved under ``root``, ascending."""
    fs, path = hadoop_fs(spark, root)
    if not fs.exists(path):
        return []
    found = (_VERSION.match(str(status.getPath().getName())) for status in fs.listStatus(path))
    return sorted(int(m.group(1)) for m in found if m)


def latest(spark: SparkSession, root: str) -> str | None:
    """The version ``<root>/LATEST`` names (e.g. ``v3``), or None."""
    fs, path = hadoop_fs(spark, f"{root.rstrip('/')}/{LATEST}")
    if not fs.exists(path):
        return None
    jvm: Any = spark._jvm
    stream = fs.open(path)
    try:
        return str(jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")).strip() or None
    finally:
        stream.close()


def _write_text(spark: SparkSession, location: str, text: str, *, overwrite: bool) -> None:
    fs, path = hadoop_fs(spark, location)
    stream = fs.create(path, overwrite)
    try:
        stream.write(bytearray(text.encode()))
    finally:
        stream.close()


def _point_latest(spark: SparkSession, root: str, version: int, run_id: str) -> None:
    """Move LATEST to ``version`` unless it already names a newer one (a concurrent run)."""
    current = latest(spark, root)
    match = _VERSION.match(current or "")
    if match and int(match.group(1)) > version:
        return
    temporary = f"{root.rstrip('/')}/.{LATEST}.{run_id}"
    _write_text(spark, temporary, f"v{version}\n", overwrite=True)
    fs, target = hadoop_fs(spark, f"{root.rstrip('/')}/{LATEST}")
    _, source = hadoop_fs(spark, temporary)
    fs.delete(target, False)
    if not fs.rename(source, target):
        raise OSError(f"could not move {temporary} to {root}/{LATEST}")


def save_version(
    spark: SparkSession, model: ALSModel, result: ModelResult, *, pipeline: str, run_id: str
) -> None:
    """Save ``model`` as the next version under ``result.path`` and record where in ``result``."""
    root = result.path.rstrip("/")
    number = (versions(spark, root) or [0])[-1] + 1
    for attempt in range(ATTEMPTS):
        location = f"{root}/v{number}"
        try:
            model.write().save(location)  # no overwrite(): an existing version is never replaced
            break
        except Py4JJavaError as exc:
            if "already exists" not in str(exc) or attempt == ATTEMPTS - 1:
                raise
            number = max(number + 1, (versions(spark, root) or [0])[-1] + 1)
    result.version, result.location = f"v{number}", location
    metadata = {
        "pipeline": pipeline,
        "runId": run_id,
        "savedAt": datetime.now(UTC).isoformat(),
        **result.to_json(),
    }
    _write_text(spark, f"{location}/{METADATA}", json.dumps(metadata, indent=2) + "\n", overwrite=False)
    _point_latest(spark, root, number, run_id)
