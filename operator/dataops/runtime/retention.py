"""Retention: after a successful run, delete what a sink keeps longer than ``retentionDays``.

* Delta sinks: ``DELETE WHERE <retentionColumn> < cutoff`` (one commit, counted by Delta's own
  operation metrics), then ``VACUUM`` with the table's retention threshold
  (``delta.deletedFileRetentionDuration``, default 7 days): the files of deleted rows are
  physically removed once they are older than that threshold, so that readers and time travel in
  flight keep working.
* Partitioned parquet, csv and json sinks: partition folders ``<retentionColumn>=<value>`` whose
  value is a date or timestamp older than the cutoff are removed. Only folders listed directly at
  the partition level inside the sink path are candidates; symbolic links, hidden folders and
  values that are not strictly a date/timestamp are never removed, so nothing outside the sink
  path is ever touched.

The cutoff is ``now - retentionDays`` (UTC). Rows or partitions with no value (null,
``__HIVE_DEFAULT_PARTITION__``) are kept.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, TimestampNTZType, TimestampType

from dataops.api.v1alpha1.datapipeline import Sink, SinkFormat
from dataops.runtime.error_text import failure_line
from dataops.runtime.errors import SinkError
from dataops.runtime.hadoop import hadoop_fs

_DATE_VALUE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[ T](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?"
    r"(?P<z>Z|[+-]\d{2}:\d{2})?$"
)
_TIME_TYPES = (DateType, TimestampType, TimestampNTZType, StringType)


@dataclass
class RetentionOutcome:
    sink: str
    column: str
    days: int
    cutoff: datetime
    rows_deleted: int | None = None
    partitions_dropped: int | None = None
    kept_unparseable: int = 0  # partition folders whose value is not a date (never removed)
    vacuumed: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "column": self.column,
            "days": self.days,
            "cutoff": self.cutoff.isoformat(),
        }
        if self.rows_deleted is not None:
            out["rowsDeleted"] = self.rows_deleted
            out["vacuumed"] = self.vacuumed
        if self.partitions_dropped is not None:
            out["partitionsDropped"] = self.partitions_dropped
        if self.kept_unparseable:
            out["keptUnparseable"] = self.kept_unparseable
        if self.error:
            out["error"] = self.error
        return out


def applies(sink: Sink) -> bool:
    return sink.retention_days is not None and sink.retention_column is not None and sink.path is not None


def check_retention_column(sink: Sink, df: DataFrame) -> None:
    """Before writing: the retention column is in the output and holds dates or timestamps."""
    if not applies(sink):
        return
    field = next((f for f in df.schema.fields if f.name.lower() == str(sink.retention_column).lower()), None)
    if field is None:
        raise SinkError(sink.name, f"retentionColumn {sink.retention_column!r} is not a column of the output")
    if not isinstance(field.dataType, _TIME_TYPES):
        raise SinkError(
            sink.name,
            f"retentionColumn {sink.retention_column!r} is {field.dataType.simpleString()}; "
            "it must be a date, a timestamp or a yyyy-MM-dd string",
        )


def partition_value_time(value: str) -> datetime | None:
    """The instant a partition folder's (escaped) value names, or None if it is not strictly a
    date or timestamp."""
    match = _DATE_VALUE.match(unquote(value))
    if match is None:
        return None
    text = match.group("date") + ("T" + match.group("time") if match.group("time") else "")
    try:
        parsed = datetime.fromisoformat(text + (match.group("z") or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def enforce(spark: SparkSession, sink: Sink, *, now: datetime | None = None) -> RetentionOutcome:
    """Apply the sink's retention; failures are reported in the outcome, not raised."""
    assert sink.retention_days is not None and sink.retention_column is not None and sink.path
    cutoff = (now or datetime.now(UTC)) - timedelta(days=sink.retention_days)
    outcome = RetentionOutcome(sink.name, sink.retention_column, sink.retention_days, cutoff)
    try:
        if sink.format == SinkFormat.DELTA:
            _expire_delta_rows(spark, sink, outcome)
        else:
            _drop_expired_partitions(spark, sink, outcome)
    except Exception as exc:  # retention must not turn a published run into a failure
        outcome.error = failure_line(exc)[:1000]
    return outcome


def _expire_delta_rows(spark: SparkSession, sink: Sink, outcome: RetentionOutcome) -> None:
    from delta.tables import DeltaTable

    assert sink.path is not None
    table = DeltaTable.forPath(spark, sink.path)
    column = F.col(f"`{outcome.column}`").cast("timestamp")
    table.delete(column < F.lit(outcome.cutoff))
    last = table.history(1).collect()[0]
    metrics = (last["operationMetrics"] or {}) if last["operation"] == "DELETE" else {}
    outcome.rows_deleted = int(metrics.get("numDeletedRows", 0) or 0)
    table.vacuum()
    outcome.vacuumed = True


def _drop_expired_partitions(spark: SparkSession, sink: Sink, outcome: RetentionOutcome) -> None:
    assert sink.path is not None  # file sinks have a path (admission)
    fs, root = hadoop_fs(spark, sink.path)
    outcome.partitions_dropped = 0
    if not fs.exists(root):
        return
    root = fs.makeQualified(root)
    level = [p.lower() for p in sink.partition_by].index(outcome.column.lower())
    prefix = f"{sink.partition_by[level]}="
    folders = [root]
    for depth in range(level):  # the partition folders above the retention column's level
        folders = [
            child
            for folder in folders
            for child in _partition_children(fs, folder, f"{sink.partition_by[depth]}=")
        ]
    for folder in folders:
        for child in _partition_children(fs, folder, prefix):
            when = partition_value_time(child.getName()[len(prefix) :])
            if when is None:
                outcome.kept_unparseable += 1
                continue
            if when < outcome.cutoff and _inside(root, child) and fs.delete(child, True):
                outcome.partitions_dropped += 1


def _partition_children(fs: Any, folder: Any, prefix: str) -> list[Any]:
    """Real sub-folders (not symbolic links) of ``folder`` named ``<column>=<value>``."""
    children = []
    for status in fs.listStatus(folder):
        path = status.getPath()
        if not status.isDirectory() or not path.getName().startswith(prefix):
            continue
        if _is_symlink(fs, path):
            continue
        children.append(path)
    return children


def _is_symlink(fs: Any, path: Any) -> bool:
    """Hadoop's local file system lists a link to a folder as that folder: ask the OS as well."""
    uri = path.toUri()
    if uri.getScheme() in (None, "file") and os.path.islink(uri.getPath()):
        return True
    try:
        return bool(fs.getFileLinkStatus(path).isSymlink())
    except Exception:  # file systems without links (object stores) may not implement it
        return False


def _inside(root: Any, path: Any) -> bool:
    """``path`` is strictly below ``root`` (defence in depth: listings only return children)."""
    base = root.toUri().normalize().getPath().rstrip("/") + "/"
    target = path.toUri().normalize().getPath()
    return bool(target.startswith(base)) and ".." not in target[len(base) :].split("/")
