"""Generic plans of monitored statements: what the planner would do for any parameter values.

pg_stat_statements keeps statements normalised (`$1`, `$2` in place of literals), so there are no
values to plan with. A generic plan needs none: PostgreSQL 16+ has `EXPLAIN (GENERIC_PLAN)`; on 15
the statement is prepared and explained under `plan_cache_mode = force_generic_plan` with NULL
arguments (a generic plan does not look at them). Never ANALYZE: nothing is executed.

Query texts are hostile data (anyone who can run SQL shapes them): a text is parsed by pglast and
only a single SELECT/INSERT/UPDATE/DELETE is re-deparsed into the EXPLAIN, so a second statement,
a utility command or a comment trick cannot ride along.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid

import pglast
import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql as pgsql

_EXPLAINABLE = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)


def explainable_statement(query_text: str) -> str | None:
    """Exactly one statement (SELECT, or INSERT/UPDATE/DELETE) parsed and re-deparsed by pglast; None otherwise. Query texts are hostile data."""
    if not query_text or not query_text.strip():
        return None
    try:
        raws = pglast.parse_sql(query_text)
    except Exception:  # noqa: BLE001 - ParseError and libpg_query's internal errors alike
        return None
    if len(raws) != 1:
        return None
    stmt = raws[0].stmt
    if not isinstance(stmt, _EXPLAINABLE):
        return None
    if isinstance(stmt, ast.SelectStmt) and stmt.intoClause is not None:  # SELECT INTO creates a table
        return None
    try:
        return RawStream()(stmt)
    except Exception:  # noqa: BLE001 - a node the deparser does not know: not explainable
        return None


def _set_local(conn: psycopg.Connection, name: str, value: str) -> None:
    conn.execute(pgsql.SQL("SET LOCAL {} = {}").format(pgsql.Identifier(name), pgsql.Literal(value)))


def _top_plan(rows) -> dict:
    doc = rows[0][0]
    if isinstance(doc, str):
        doc = json.loads(doc)
    return doc[0]["Plan"]


def generic_plan(conn: psycopg.Connection, statement: str, *, timeout_ms: int = 2000) -> dict:
    """The generic plan as EXPLAIN (FORMAT JSON) returns it (the top-level 'Plan' dict, with 'Total Cost'): EXPLAIN (GENERIC_PLAN) on PG 16+; on PG 15 PREPARE + SET LOCAL plan_cache_mode = force_generic_plan + EXPLAIN EXECUTE with NULL arguments, then DEALLOCATE. Never ANALYZE. statement_timeout and lock_timeout set locally."""
    text = explainable_statement(statement)
    if text is None:
        raise ValueError("not a single SELECT/INSERT/UPDATE/DELETE statement")
    prepared: str | None = None
    try:
        # force_rollback: the SET LOCALs end with this block, also inside a caller's transaction
        with conn.transaction(force_rollback=True):
            _set_local(conn, "statement_timeout", f"{int(timeout_ms)}ms")
            _set_local(conn, "lock_timeout", f"{int(timeout_ms)}ms")
            if conn.info.server_version >= 160000:
                rows = conn.execute(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {text}").fetchall()
                return _top_plan(rows)
            _set_local(conn, "plan_cache_mode", "force_generic_plan")
            name = f"aimatrix_plan_{uuid.uuid4().hex}"
            conn.execute(pgsql.SQL("PREPARE {} AS ").format(pgsql.Identifier(name)).as_string(conn) + text)
            prepared = name
            nparams = conn.execute(
                "select coalesce(array_length(parameter_types, 1), 0) from pg_prepared_statements where name = %s",
                (name,),
            ).fetchone()[0]
            args = pgsql.SQL("({})").format(pgsql.SQL(", ").join([pgsql.NULL] * nparams)) if nparams else pgsql.SQL("")
            rows = conn.execute(
                pgsql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}{}").format(pgsql.Identifier(name), args)
            ).fetchall()
            return _top_plan(rows)
    finally:
        if prepared is not None:  # prepared statements outlive a rollback
            try:
                conn.execute(pgsql.SQL("DEALLOCATE {}").format(pgsql.Identifier(prepared)))
            except psycopg.Error:
                pass


# -- plan shape -------------------------------------------------------------------------------------
_SHAPE_KEYS = (
    "Node Type", "Parent Relationship", "Strategy", "Partial Mode", "Join Type", "Operation",
    "Relation Name", "Schema", "Index Name", "Scan Direction", "CTE Name", "Subplan Name",
    "Function Name", "Command",
)
_EXPR_KEYS = (
    "Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond", "TID Cond",
    "Sort Key", "Group Key", "Presorted Key", "Cache Key", "Output",
)
_LITERAL = re.compile(r"'(?:[^']|'')*'|(?<![\w$])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", re.I)


def _expr(value) -> object:
    if isinstance(value, list):
        return [_expr(v) for v in value]
    return _LITERAL.sub("?", str(value))


def _shape(node: dict) -> dict:
    out = {k: node[k] for k in _SHAPE_KEYS if k in node}
    out.update({k: _expr(node[k]) for k in _EXPR_KEYS if k in node})
    children = node.get("Plans") or []
    if children:
        out["Plans"] = [_shape(c) for c in children]
    return out


def plan_hash(plan: dict) -> str:
    """A stable hash of the plan's shape (node types, relations, index names, join/sort keys, filters' columns), ignoring costs and row estimates."""
    shape = json.dumps(_shape(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(shape.encode()).hexdigest()[:16]
