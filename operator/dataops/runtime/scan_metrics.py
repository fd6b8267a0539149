"""Rows read per source, from the SQL metrics Spark already keeps for every scan.

Counting with an extra aggregation (or an observation between the scan and the query) blocks
filter push-down and costs a large share of a run; the scan's "number of output rows" metric
is free. Scans are matched to sources by the expression ids of their output columns.
"""

from __future__ import annotations

import re
from typing import Any

from pyspark.sql import DataFrame, SparkSession

_ROWS_METRIC = "number of output rows"
_IDS = re.compile(r"#(\d+)")
_BRACKETS = re.compile(r"\[([^\]]*)\]")


def expression_ids(df: DataFrame) -> set[int]:
    output = df._jdf.queryExecution().analyzed().output()
    return {int(output.apply(i).exprId().id()) for i in range(output.size())}


def execution_count(spark: SparkSession) -> int:
    """The id the next SQL execution will get (at least): one more than the newest the status
    store retains. Ids, not positions: the store keeps only the newest
    ``spark.sql.ui.retainedExecutions`` (1000), so positions stop growing in a long session."""
    store = _store(spark)
    total = int(store.executionsCount())
    if total == 0:
        return 0
    return int(store.executionsList(total - 1, 1).apply(0).executionId()) + 1


def _store(spark: SparkSession) -> Any:
    return spark._jsparkSession.sharedState().statusStore()


def _value(option: Any) -> int | None:
    text = str(option)
    match = re.search(r"([\d,]+)", text)
    return int(match.group(1).replace(",", "")) if match and text.startswith("Some") else None


def scans_since(spark: SparkSession, first_execution: int) -> list[tuple[int, set[int], int]]:
    """(execution id, output expression ids, rows) of every scan in executions since ``first_execution``."""
    spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()
    store = _store(spark)
    found: list[tuple[int, set[int], int]] = []
    for execution_id in _execution_ids_since(store, first_execution):
        metrics = store.executionMetrics(execution_id)
        nodes = store.planGraph(execution_id).allNodes()
        for j in range(nodes.size()):
            node = nodes.apply(j)
            if "Scan" not in str(node.name()):
                continue
            # The first bracketed list with expression ids is the scan's output ("[id#2L,k#3L]").
            columns = next((g for g in _BRACKETS.findall(str(node.desc())) if "#" in g), "")
            ids = {int(x) for x in _IDS.findall(columns)}
            plan_metrics = node.metrics()
            for k in range(plan_metrics.size()):
                metric = plan_metrics.apply(k)
                if str(metric.name()) == _ROWS_METRIC:
                    rows = _value(metrics.get(metric.accumulatorId()))
                    if rows is not None:
                        found.append((execution_id, ids, rows))
    return found


def _execution_ids_since(store: Any, first_execution: int, chunk: int = 64) -> list[int]:
    """Ids of the retained executions with id >= ``first_execution``, oldest first: read from the
    newest backwards (the store lists executions by id), a chunk at a time."""
    end = int(store.executionsCount())
    ids: list[int] = []
    while end > 0:
        start = max(0, end - chunk)
        executions = store.executionsList(start, end - start)
        batch = [int(executions.apply(i).executionId()) for i in range(executions.size())]
        ids[:0] = [i for i in batch if i >= first_execution]
        if not batch or min(batch) < first_execution:
            break
        end = start
    return ids


def rows_read(scans: list[tuple[int, set[int], int]], sources: dict[str, set[int]]) -> dict[str, int | None]:
    """Per source: the rows its scans produced in one query (the largest, if several queries read it)."""
    result: dict[str, int | None] = {}
    for name, ids in sources.items():
        per_execution: dict[int, int] = {}
        for execution_id, scan_ids, rows in scans:
            if scan_ids & ids:
                per_execution[execution_id] = per_execution.get(execution_id, 0) + rows
        result[name] = max(per_execution.values()) if per_execution else None
    return result
