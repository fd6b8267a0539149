"""Offline checks of a pipeline's SQL steps with sqlglot (Spark dialect). Pure.

Each step (``spec.transforms[i].sql``) is parsed; a syntax error is reported with sqlglot's reason.
A step may read sources, other steps (their order is checked by :func:`check_step_order`) and its own
CTEs; any other unqualified table name is reported (a name with a database or a format prefix, such as
``parquet.`/path```, may be a catalog table and is left to Spark). Where every table a step reads has
known columns (a source with a declared ``schema``, or an earlier step whose columns followed from
those), a column that none of them has is reported too.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from dataops.api.v1alpha1.datapipeline import (
    ColumnSpec,
    DataPipelineSpec,
    KafkaRecordFormat,
    Source,
    TransformStep,
)

DIALECT = "spark"
# Columns a Kafka source's rows carry besides its declared schema (dataops.runtime.stream_parse).
KAFKA_COLUMNS = ("__partition", "__offset")
DEBEZIUM_COLUMNS = ("__op", "__deleted", "__source_ts_ms")

Columns = dict[str, str]


@dataclass(frozen=True)
class SqlProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: Invalid value: {self.message}"


def source_columns(source: Source) -> Columns | None:
    """Column name -> Spark type of a source's rows, when its schema is declared."""
    if source.file is not None and source.file.schema_:
        return _declared(source.file.schema_)
    if source.kafka is not None and source.kafka.schema_:
        columns = _declared(source.kafka.schema_)
        columns.update(dict.fromkeys(KAFKA_COLUMNS, "bigint"))
        if source.kafka.format == KafkaRecordFormat.DEBEZIUM:
            columns.update({"__op": "string", "__deleted": "boolean", "__source_ts_ms": "bigint"})
        return columns
    return None


def _declared(schema: list[ColumnSpec]) -> Columns:
    return {c.name.lower(): c.type for c in schema}


def _parse(sql: str) -> exp.Expr:
    statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    if not statements:
        raise ParseError("the step has no SQL statement")
    return statements[-1]


def _syntax_message(error: ParseError) -> str:
    details = error.errors[0] if error.errors else None
    if details:
        where = f" at line {details.get('line')}, column {details.get('col')}" if details.get("line") else ""
        return f"SQL syntax error{where}: {details.get('description')}"
    return f"SQL syntax error: {str(error).splitlines()[0]}"


def _read_tables(tree: exp.Expr) -> list[str]:
    """Unqualified table names the statement reads, CTE names excluded, in order."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names: dict[str, None] = {}
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.args.get("db") or table.args.get("catalog"):
            continue
        name = table.name.lower()
        if name not in ctes:
            names.setdefault(name, None)
    return list(names)


def _output_columns(tree: exp.Expr, schema: dict[str, object]) -> Columns | None:
    """Qualify ``tree`` against ``schema``; the step's output columns, or None when unknown.

    Raises OptimizeError when a column cannot be resolved.
    """
    qualified = qualify(
        tree.copy(), schema=schema, dialect=DIALECT, validate_qualify_columns=True, quote_identifiers=False
    )
    if not isinstance(qualified, exp.Query):
        return None
    names = qualified.named_selects
    if not names or any(n.startswith("_col_") or n == "*" for n in names):
        return None
    return {n.lower(): "string" for n in names}


def check_sql_steps(spec: DataPipelineSpec) -> list[SqlProblem]:
    """Syntax errors, unknown views and (where schemas are known) unknown columns of every SQL step."""
    return _analyse(spec)[0]


def dataset_columns(spec: DataPipelineSpec) -> dict[str, list[str] | None]:
    """The column names of every source and step, where declared schemas let SQL be followed."""
    return {
        name: list(columns) if columns is not None else None for name, columns in _analyse(spec)[1].items()
    }


def _analyse(spec: DataPipelineSpec) -> tuple[list[SqlProblem], dict[str, Columns | None]]:
    problems: list[SqlProblem] = []
    known: dict[str, Columns | None] = {s.name: source_columns(s) for s in spec.sources}
    views = set(known) | {t.name for t in spec.transforms}
    for index, step in enumerate(spec.transforms):
        if step.model is not None:
            problems += _check_model_columns(step, index, known)
            continue
        path = f"spec.transforms[{index}].sql"
        try:
            tree = _parse(step.sql or "")
        except ParseError as exc:
            problems.append(SqlProblem(path, _syntax_message(exc)))
            known[step.name] = None
            continue
        except SqlglotError as exc:  # tokenizer errors
            problems.append(SqlProblem(path, f"SQL syntax error: {str(exc).splitlines()[0]}"))
            known[step.name] = None
            continue
        tables = _read_tables(tree)
        missing = [t for t in tables if t not in views]
        for table in missing:
            problems.append(
                SqlProblem(
                    path,
                    f"step {step.name!r} reads {table!r}, which is neither a source nor a step of this "
                    f"pipeline (known: {', '.join(sorted(views))})",
                )
            )
        schema = {t: known.get(t) for t in tables}
        if missing or not tables or any(cols is None for cols in schema.values()):
            known[step.name] = None
            continue
        try:
            known[step.name] = _output_columns(tree, {t: c for t, c in schema.items() if c is not None})
        except OptimizeError as exc:
            problems.append(SqlProblem(path, f"step {step.name!r}: {str(exc).splitlines()[0]}"))
            known[step.name] = None
        except SqlglotError:
            known[step.name] = None  # sqlglot cannot follow this statement; Spark will judge it
    return problems, known


def _check_model_columns(
    step: TransformStep, index: int, known: dict[str, Columns | None]
) -> list[SqlProblem]:
    """A model step's columns must exist in its input (when the input's columns are known); its
    output columns are the user and item columns, rank and score."""
    assert step.model is not None
    als = step.model.als
    columns = known.get(step.model.input)
    problems = []
    if columns is not None:
        for field, column in (
            ("userColumn", als.user_column),
            ("itemColumn", als.item_column),
            ("ratingColumn", als.rating_column),
        ):
            if column is not None and column.lower() not in columns:
                problems.append(
                    SqlProblem(
                        f"spec.transforms[{index}].model.als.{field}",
                        f"step {step.name!r}: {step.model.input!r} has no column {column!r} "
                        f"(columns: {', '.join(sorted(columns))})",
                    )
                )
    known[step.name] = {
        als.user_column.lower(): "int",
        als.item_column.lower(): "int",
        "rank": "int",
        "score": "float",
    }
    return problems
