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
    return int(_store(spark).executionsCount())


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
    count = int(store.executionsCount()) - first_execution
    if count <= 0:
        return []
    executions = store.executionsList(first_execution, count)
    found: list[tuple[int, set[int], int]] = []
    for i in range(executions.size()):
        execution_id = int(executions.apply(i).executionId())
        if execution_id < first_execution:
            continue
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
