"""The runtime's own check that SQL steps are queries, before Spark sees any of them.

``spark.sql`` executes a command (``SET``, ``ADD JAR``, ``INSERT OVERWRITE DIRECTORY`` ...) the
moment it is called, so a plan that did not come through ``dataops validate`` or the operator
(a hand-edited plan ConfigMap) is checked again here.
"""

from __future__ import annotations

from dataops.plan.runplan import PlannedStep
from dataops.plan.sql_guard import query_only_problem
from dataops.runtime.errors import StepError


def ensure_queries_only(steps: list[PlannedStep]) -> None:
    """Raise StepError naming the first step whose SQL is not a single query."""
    for step in steps:
        if step.model is not None:  # its SQL only describes lineage; Spark never runs it
            continue
        problem = query_only_problem(step.sql)
        if problem is not None:
            raise StepError(step.name, f"SQL {problem}")
