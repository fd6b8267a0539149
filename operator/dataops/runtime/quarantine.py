"""Staging and quarantine folders over time.

A run with gates stages each sink's output (``runtime/publish.py``). When a gate fails, the staged
folders stay as quarantine and get a ``_DATAOPS_QUARANTINE`` marker (Spark's readers skip files
starting with ``_``). Before each gated run stages, the sinks' staging areas are swept:

- quarantine older than ``spec.quarantineRetentionDays`` (by its marker's time) is deleted;
- a folder without the marker is what a run left when it was killed before it could clean up;
  it is deleted once it is older than a day (a younger one may belong to a run still going);
- the quarantine that stays is listed in the summary and in ``status.lastRun.quarantined``.

Only folders inside the staging areas the pipeline's own sinks define are looked at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyspark.sql import SparkSession

from dataops.api.v1alpha1.datapipeline import Sink
from dataops.runtime.hadoop import hadoop_fs
from dataops.runtime.publish import STAGING_SUFFIX

MARKER = "_DATAOPS_QUARANTINE"
ABANDONED_AFTER = timedelta(days=1)


@dataclass
class Sweep:
    removed: list[str] = field(default_factory=list)  # folders deleted
    kept: list[dict[str, str]] = field(default_factory=list)  # quarantine still kept: sink, path, since


def mark_quarantine(spark: SparkSession, location: str) -> None:
    fs, path = hadoop_fs(spark, location)
    marker = path.suffix(f"/{MARKER}")
    if fs.exists(path) and not fs.exists(marker):
        fs.createNewFile(marker)


def _run_folders(spark: SparkSession, sink: Sink, root: str | None) -> list[tuple[str, str]]:
    """(run id, staged folder of this sink) of every run that staged this sink."""
    if root:
        area = root.rstrip("/")
        suffix = f"/{sink.name}"
    elif sink.path:
        area = f"{sink.path.rstrip('/')}{STAGING_SUFFIX}"
        suffix = ""
    else:
        return []  # a JDBC sink staged in the driver's temporary folder: gone with the driver
    fs, path = hadoop_fs(spark, area)
    if not fs.exists(path):
        return []
    found = []
    for status in fs.listStatus(path):
        if status.isDirectory():
            run = status.getPath().getName()
            found.append((run, f"{area}/{run}{suffix}"))
    return found


def _time(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def sweep(
    spark: SparkSession,
    sinks: list[Sink],
    *,
    root: str | None,
    run_id: str,
    retention_days: int,
    now: datetime,
) -> Sweep:
    done = Sweep()
    for sink in sinks:
        for run, location in _run_folders(spark, sink, root):
            if run == run_id:
                continue
            fs, path = hadoop_fs(spark, location)
            if not fs.exists(path):
                continue
            marker = path.suffix(f"/{MARKER}")
            if fs.exists(marker):
                since = _time(fs.getFileStatus(marker).getModificationTime())
                if now - since > timedelta(days=retention_days):
                    fs.delete(path, True)
                    done.removed.append(location)
                else:
                    done.kept.append({"sink": sink.name, "path": location, "since": since.isoformat()})
            elif now - _time(fs.getFileStatus(path).getModificationTime()) > ABANDONED_AFTER:
                fs.delete(path, True)
                done.removed.append(location)
    if root:  # run folders under stagingPath left empty
        for run, _ in {(r, "") for sink in sinks for r, _ in _run_folders(spark, sink, root)}:
            fs, path = hadoop_fs(spark, f"{root.rstrip('/')}/{run}")
            if fs.exists(path) and len(fs.listStatus(path)) == 0:
                fs.delete(path, True)
    return done
