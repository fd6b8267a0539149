"""SQL steps are queries only. Pure.

A transform step's SQL becomes a temporary view, so it must be one query: ``SELECT`` (with
``WITH`` CTEs, ``FROM ... SELECT``), ``VALUES`` or a set operation (``UNION``, ``EXCEPT``,
``INTERSECT``) of those. Everything Spark would execute as a command the moment ``spark.sql``
is called (``INSERT OVERWRITE DIRECTORY``, ``CREATE TABLE ... LOCATION``, ``SET``, ``ADD JAR``,
``DROP``, ``CACHE``, ``REFRESH``, ``MSCK``, ``LOAD DATA``, ...) or a second statement is refused.

The check parses with sqlglot (dialect spark), the parser the column lineage uses; comments and
string literals are tokens there, so a ``;`` inside ``'...'`` or ``/* ... */`` is not a statement
separator and a statement hidden in a comment is not a statement. SQL that sqlglot cannot parse
is still checked token by token (first keyword, statement separators); anything else about it
is left to Spark, which then only ever sees a single query.
"""

from __future__ import annotations

import functools

from sqlglot import Token, TokenType, exp, parse, tokenize
from sqlglot.errors import SqlglotError

from dataops.api.v1alpha1.datapipeline import DataPipelineSpec
from dataops.plan.runplan import PlanError, check_step_order

_QUERY_ROOTS = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
# Nodes that make a statement more than a read, wherever they appear in the tree.
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = (
    exp.Insert,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.Command,
    exp.Set,
    exp.Use,
    exp.LoadData,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Merge,
    exp.Update,
    exp.Delete,
    exp.TruncateTable,
    exp.Describe,
    exp.Analyze,
    exp.Into,
)
_QUERY_KEYWORDS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.FROM, TokenType.L_PAREN}


def _statement_kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    key = node.key.upper()
    kind = node.args.get("kind")
    return f"{key} {kind}".upper() if isinstance(kind, str) and kind else key


def _not_a_query(kind: str) -> str:
    return f"is {kind}, not a query (SELECT, WITH ... SELECT, VALUES or a set operation of those)"


def _token_check(tokens: list[Token]) -> str | None:
    """The lexical check: one statement (trailing ``;`` allowed) that starts like a query."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    non_empty = [s for s in statements if s]
    if not non_empty:
        return "is empty"
    if len(non_empty) > 1:
        return f"holds {len(non_empty)} statements; a step is one query"
    first = non_empty[0][0]
    if first.token_type not in _QUERY_KEYWORDS:
        return _not_a_query(first.text.upper())
    return None


# Functions that reach outside the query: they call any static JVM method (System.getenv reads the
# secrets in the driver's environment, e.g. a masking key), so a step could copy them into a sink.
DENIED_FUNCTIONS = {"reflect", "java_method", "try_reflect"}
# `format`.`path` reads files the pipeline did not declare as sources (and no policy saw).
FILE_TABLE_PREFIXES = {"parquet", "orc", "json", "csv", "text", "avro", "delta", "binaryfile", "jdbc"}


def _capability_check(tokens: list[Token]) -> str | None:
    """Calls and reads a query may not make, found token by token (strings and comments are not
    tokens that match, so a name inside them is not a call)."""
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        word = token.text.lower()
        if token.token_type == TokenType.STRING:
            continue
        if word in DENIED_FUNCTIONS and following is not None and following.token_type == TokenType.L_PAREN:
            return f"calls {word}(), which runs arbitrary JVM code; it is not allowed in a step"
        after = tokens[index + 2] if index + 2 < len(tokens) else None
        if (
            word in FILE_TABLE_PREFIXES
            and following is not None
            and following.token_type == TokenType.DOT
            and after is not None
            and after.token_type in (TokenType.IDENTIFIER, TokenType.STRING)
            and ("/" in after.text or ":" in after.text)
        ):
            return f"reads files directly ({word}.`{after.text}`); declare them as a source instead"
    return None


@functools.lru_cache(maxsize=4096)
def query_only_problem(sql: str) -> str | None:
    """Why ``sql`` is not a single query (or calls or reads what a step may not), or None. Pure, and
    remembered: every reconcile of a pipeline asks again about the same SQL."""
    try:
        tokens = tokenize(sql, dialect="spark")
    except SqlglotError as exc:
        return f"cannot be read as SQL: {str(exc).splitlines()[0]}"
    problem = _token_check(tokens) or _capability_check(tokens)
    if problem is not None:
        return problem
    try:
        statements = [s for s in parse(sql, dialect="spark") if s is not None and not _is_empty(s)]
    except SqlglotError:
        return None  # sqlglot's grammar lags Spark's: the lexical check above has to do
    if len(statements) != 1:
        return f"holds {len(statements)} statements; a step is one query"
    root = statements[0]
    if not isinstance(root, _QUERY_ROOTS):
        return _not_a_query(_statement_kind(root))
    for node in root.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            return f"contains {_statement_kind(node)}; a step is one query"
    return None


def _is_empty(node: exp.Expr) -> bool:
    return isinstance(node, exp.Semicolon)


def check_queries_only(spec: DataPipelineSpec) -> list[PlanError]:
    """One error per transform step whose SQL is not a single query."""
    errors = []
    for index, step in enumerate(spec.transforms):
        if step.sql is None:  # a model step runs no SQL
            continue
        problem = query_only_problem(step.sql)
        if problem is not None:
            errors.append(PlanError(f"spec.transforms[{index}].sql", f"step {step.name!r}: SQL {problem}"))
    return errors


def check_steps(spec: DataPipelineSpec) -> list[PlanError]:
    """Everything wrong with the SQL steps: each must be one query, reading earlier steps only."""
    return check_queries_only(spec) + check_step_order(spec)
