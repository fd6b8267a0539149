"""Column lineage derived from the pipeline's SQL with sqlglot. Pure.

For every output column of a sink: the source columns it is computed from, following the
chain of SQL steps back to the sources. Columns sqlglot cannot trace (``count(*)``) get none.
"""

from __future__ import annotations

import logging

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage

log = logging.getLogger(__name__)

SourceColumn = tuple[str, str]  # (source name, column)


def column_lineage(
    *, output_columns: list[str], from_: str, steps: dict[str, str], source_columns: dict[str, list[str]]
) -> dict[str, list[SourceColumn]]:
    """``steps`` maps step names to SQL, in order; ``from_`` is the step or source a sink writes;
    ``source_columns`` names each source's columns (so ``SELECT *`` can be expanded)."""
    sources = set(source_columns)
    schema = {name: {c: "STRING" for c in columns} for name, columns in source_columns.items()}
    if from_ in sources:
        return {c: [(from_, c)] for c in output_columns}
    if from_ not in steps:
        return {}
    views = {name: sql for name, sql in steps.items() if name != from_}
    result: dict[str, list[SourceColumn]] = {}
    for column in output_columns:
        try:
            node = lineage(column, steps[from_], schema, sources=views, dialect="spark")
        except (SqlglotError, KeyError, ValueError) as exc:
            log.debug("no column lineage for %s.%s: %s", from_, column, exc)
            continue
        found: list[SourceColumn] = []
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                continue
            table = leaf.expression.name.lower()
            if table in sources:
                pair = (table, leaf.name.rsplit(".", 1)[-1])
                if pair not in found:
                    found.append(pair)
        if found:
            result[column] = found
    return result
