"""Generic plans of workload statements, asked of the monitored database's planner, safely.

Query texts come from pg_stat_statements and the application's query log: hostile data. A text
reaches EXPLAIN only as pglast re-deparsed it from a parse tree holding exactly one SELECT,
INSERT, UPDATE or DELETE (`explainable_statement`), so a `;` smuggled into a text can never start
a second statement. EXPLAIN never runs with ANALYZE (nothing is executed, only planned), always
under a local statement and lock timeout.

Normalised texts carry `$1`, `$2` placeholders, so the plan is the *generic* one (what a prepared
statement gets when the values are unknown): `EXPLAIN (GENERIC_PLAN)` on PostgreSQL 16+, and on
15 a `PREPARE` whose parameter types the server infers, `plan_cache_mode = force_generic_plan`
and `EXPLAIN EXECUTE` with NULL arguments, then `DEALLOCATE`.

The monitoring role usually may not read the application's tables, which EXPLAIN needs. When
the opt-in grant of sql/demo/06_monitoring_role.sql is installed, `generic_plan` falls back to
its SECURITY DEFINER function (`DEFINER_FUNCTION`), which explains one SELECT and nothing else.

`plan_hash` names a plan's shape (what changes when the planner changes its mind), not its costs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re

import pglast
import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

# The opt-in SECURITY DEFINER function of sql/demo/06_monitoring_role.sql: (query text) -> json.
DEFINER_SCHEMA = "aimatrix_monitoring"
DEFINER_FUNCTION = "explain_generic_plan"
MAX_STATEMENT_CHARS = 100_000

_KINDS = (ast.SelectStmt, ast.InsertStmt, ast.UpdateStmt, ast.DeleteStmt)
_names = itertools.count()


class NotExplainable(ValueError):
    """The text is not exactly one SELECT/INSERT/UPDATE/DELETE; it never reaches the server."""


def _single(text: str):
    try:
        raws = pglast.parse_sql(text)
    except (pglast.parser.ParseError, RecursionError, ValueError):
        return None
    if len(raws) != 1 or not isinstance(raws[0].stmt, _KINDS):
        return None
    stmt = raws[0].stmt
    if isinstance(stmt, ast.SelectStmt) and stmt.intoClause is not None:  # SELECT INTO creates a table
        return None
    return stmt


def explainable_statement(query_text: str) -> str | None:
    """Exactly one statement (SELECT, or INSERT/UPDATE/DELETE) parsed and re-deparsed by pglast;
    None otherwise. Query texts are hostile data."""
    if not isinstance(query_text, str) or not query_text.strip() or len(query_text) > MAX_STATEMENT_CHARS:
        return None
    if "\x00" in query_text:
        return None
    stmt = _single(query_text)
    if stmt is None:
        return None
    try:
        text = RawStream()(stmt)
    except Exception:  # noqa: BLE001 - pglast raises many types on trees it cannot print
        return None
    again = _single(text)  # what we send must itself be one statement of the same kind
    if again is None or type(again) is not type(stmt):
        return None
    return text


def server_major(conn: psycopg.Connection) -> int:
    return int(conn.info.server_version) // 10000


def _set_local_timeouts(conn: psycopg.Connection, timeout_ms: int) -> None:
    """statement_timeout = timeout_ms; lock_timeout half of it, so a wait for a lock is reported
    as one (LockNotAvailable) rather than as a slow statement."""
    ms = max(2, int(timeout_ms))
    conn.execute("select set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)",
                 (str(ms), str(ms // 2)))


def _top_plan(result) -> dict:
    doc = result[0] if isinstance(result, list) else result
    if isinstance(doc, str):
        doc = json.loads(doc)
    if isinstance(doc, list):
        doc = doc[0]
    plan = doc.get("Plan") if isinstance(doc, dict) else None
    if not isinstance(plan, dict) or "Total Cost" not in plan:
        raise psycopg.DataError("EXPLAIN returned no plan")
    return plan


def _explain_directly(conn: psycopg.Connection, statement: str, timeout_ms: int) -> dict:
    if server_major(conn) >= 16:
        with conn.transaction():
            _set_local_timeouts(conn, timeout_ms)
            row = conn.execute("EXPLAIN (GENERIC_PLAN, FORMAT JSON) " + statement).fetchone()  # type: ignore[arg-type]
        return _top_plan(row[0])
    name = f"aimatrix_explain_{os.getpid()}_{next(_names)}"
    prepared = False
    try:
        with conn.transaction():
            _set_local_timeouts(conn, timeout_ms)
            conn.execute(sql.SQL("PREPARE {} AS ").format(sql.Identifier(name)) + sql.SQL(statement))  # type: ignore[arg-type]
            prepared = True
            n = conn.execute("select coalesce(cardinality(parameter_types), 0) from pg_prepared_statements "
                             "where name = %s", (name,)).fetchone()[0]
            conn.execute("select set_config('plan_cache_mode', 'force_generic_plan', true)")
            args = sql.SQL("({})").format(sql.SQL(", ").join([sql.NULL] * n)) if n else sql.SQL("")
            row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) EXECUTE {}{}").format(sql.Identifier(name), args)).fetchone()
        return _top_plan(row[0])
    finally:
        if prepared and not conn.closed:
            with conn.transaction():
                conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name)))


def definer_function_available(conn: psycopg.Connection) -> bool:
    """The opt-in function exists and this role may execute it."""
    with conn.transaction():
        row = conn.execute(
            "select p.oid is not null and has_function_privilege(p.oid, 'execute') "
            "from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = %s and p.proname = %s", (DEFINER_SCHEMA, DEFINER_FUNCTION)).fetchone()
    return bool(row and row[0])


def _explain_through_definer(conn: psycopg.Connection, statement: str, timeout_ms: int) -> dict:
    with conn.transaction():
        _set_local_timeouts(conn, timeout_ms)
        row = conn.execute(sql.SQL("select {}.{}(%s)").format(
            sql.Identifier(DEFINER_SCHEMA), sql.Identifier(DEFINER_FUNCTION)), (statement,)).fetchone()
    return _top_plan(row[0])


def generic_plan(conn: psycopg.Connection, statement: str, *, timeout_ms: int = 2000) -> dict:
    """The generic plan as EXPLAIN (FORMAT JSON) returns it (the top-level 'Plan' dict, with
    'Total Cost'): EXPLAIN (GENERIC_PLAN) on PG 16+; on PG 15 PREPARE + SET LOCAL plan_cache_mode =
    force_generic_plan + EXPLAIN EXECUTE with NULL arguments, then DEALLOCATE. Never ANALYZE.
    statement_timeout and lock_timeout set locally.

    `statement` is parsed and re-deparsed here again (NotExplainable when it is not one plannable
    statement). When the role may not read a table the statement reads and the opt-in definer
    function is installed, the plan comes from that function instead (SELECT only)."""
    text = explainable_statement(statement)
    if text is None:
        raise NotExplainable("not exactly one SELECT, INSERT, UPDATE or DELETE statement")
    try:
        return _explain_directly(conn, text, timeout_ms)
    except psycopg.errors.InsufficientPrivilege:
        if not isinstance(_single(text), ast.SelectStmt) or not definer_function_available(conn):
            raise
        return _explain_through_definer(conn, text, timeout_ms)


# ---- plan shape -------------------------------------------------------------------------------

_SHAPE_KEYS = ("Node Type", "Parent Relationship", "Strategy", "Partial Mode", "Join Type", "Scan Direction",
               "Schema", "Relation Name", "Index Name", "CTE Name", "Function Name", "Command", "Operation",
               "Subplan Name")
_CONDITION_KEYS = ("Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond",
                   "One-Time Filter", "TID Cond")
_LIST_KEYS = ("Sort Key", "Group Key", "Presorted Key", "Hash Key", "Output")
_LITERALS = re.compile(r"'(?:[^']|'')*'(?:::[\w\s\[\]\"\.]+)?|\$\d+|\b\d+(?:\.\d+)?\b")
_HYPO_OID = re.compile(r"<\d+>")


def _columns_only(text: str) -> str:
    """A condition without its constants and parameters: which columns it compares, and how."""
    return re.sub(r"\s+", " ", _LITERALS.sub("?", text)).strip()


def _shape(node: dict) -> dict:
    out: dict = {}
    for key in _SHAPE_KEYS:
        if key in node:
            value = node[key]
            out[key] = _HYPO_OID.sub("<hypo>", value) if isinstance(value, str) else value
    for key in _CONDITION_KEYS:
        if isinstance(node.get(key), str):
            out[key] = _columns_only(node[key])
    for key in _LIST_KEYS[:-1]:
        if isinstance(node.get(key), list):
            out[key] = [_columns_only(str(v)) for v in node[key]]
    out["Plans"] = [_shape(child) for child in node.get("Plans", []) if isinstance(child, dict)]
    return out


def plan_hash(plan: dict) -> str:
    """A stable hash of the plan's shape (node types, relations, index names, join/sort keys,
    filters' columns), ignoring costs and row estimates."""
    if isinstance(plan, dict) and "Plan" in plan and "Node Type" not in plan:
        plan = plan["Plan"]
    payload = json.dumps(_shape(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def plan_nodes(plan: dict):
    """Every node of a plan, depth first."""
    yield plan
    for child in plan.get("Plans", []) or []:
        if isinstance(child, dict):
            yield from plan_nodes(child)


def index_names(plan: dict) -> set[str]:
    """Names of the indexes the plan scans."""
    return {n["Index Name"] for n in plan_nodes(plan) if isinstance(n.get("Index Name"), str)}
