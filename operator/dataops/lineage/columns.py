"""Column lineage derived from the pipeline's SQL with sqlglot. Pure.

For every output column of a sink: the source columns it is computed from, following the
chain of SQL steps back to the sources. Columns sqlglot cannot trace (``count(*)``) get none.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import lineage

SourceColumn = tuple[str, str]  # (source name, column)


@dataclass(frozen=True)
class TracedColumns:
    """Column lineage with its gaps: ``sources`` of each traced output column, and the columns whose
    derivation could not be followed (SQL sqlglot cannot analyse, a table that is no source)."""

    sources: dict[str, list[SourceColumn]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)  # column -> why


def trace_columns(
    *, output_columns: list[str], from_: str, steps: dict[str, str], source_columns: dict[str, list[str]]
) -> TracedColumns:
    """Like :func:`column_lineage`, but says which columns it could not trace. A column computed from
    no column at all (a literal, ``count(*)``) is traced to no source and is not unresolved."""
    sources = {name.lower() for name in source_columns}
    schema = {name: {c: "STRING" for c in columns} for name, columns in source_columns.items()}
    traced = TracedColumns()
    if from_.lower() in sources:
        name = next(n for n in source_columns if n.lower() == from_.lower())
        traced.sources.update({c: [(name, c)] for c in output_columns})
        return traced
    step_sql = next((sql for name, sql in steps.items() if name.lower() == from_.lower()), None)
    if step_sql is None:
        traced.unresolved.update({c: f"{from_!r} is neither a source nor a step" for c in output_columns})
        return traced
    views = {name: sql for name, sql in steps.items() if name.lower() != from_.lower()}
    for column in output_columns:
        try:
            node = lineage(column, step_sql, schema, sources=views, dialect="spark")
        except (SqlglotError, KeyError, ValueError, AttributeError, RecursionError) as exc:
            traced.unresolved[column] = f"the SQL cannot be analysed ({_first_line(exc)})"
            continue
        found: list[SourceColumn] = []
        unknown: list[str] = []
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.expression, exp.Table):
                continue
            table = leaf.expression.name.lower()
            if table in sources:
                pair = (table, leaf.name.rsplit(".", 1)[-1])
                if pair not in found:
                    found.append(pair)
            elif table not in unknown:
                unknown.append(table)
        if unknown:
            traced.unresolved[column] = f"it reads {', '.join(map(repr, unknown))}, which is no source"
        traced.sources[column] = found
    return traced


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def column_lineage(
    *, output_columns: list[str], from_: str, steps: dict[str, str], source_columns: dict[str, list[str]]
) -> dict[str, list[SourceColumn]]:
    """``steps`` maps step names to SQL, in order; ``from_`` is the step or source a sink writes;
    ``source_columns`` names each source's columns (so ``SELECT *`` can be expanded). Only the
    columns traced to at least one source column (see :func:`trace_columns`)."""
    traced = trace_columns(
        output_columns=output_columns, from_=from_, steps=steps, source_columns=source_columns
    )
    return {column: found for column, found in traced.sources.items() if found}
