"""Apply one recommendation's remediation SQL to its project's database, safely.

Running a suggested statement directly would be the simple way. Here a remediation only runs when:

1. the statement is one `statements.classify` allows (CREATE/DROP INDEX CONCURRENTLY, VACUUM,
   ANALYZE), parsed, not pattern-matched, and one its finding allows, on the finding's own
   object (`allowlist.authorize`; `plan` does both);
2. the operator passed an explicit confirmation (`--confirm`; the default is a dry run that only
   shows the SQL and its evidence);
3. a DSN that is allowed to write is configured (`apply_db_url_env` of the project in the projects
   file, else `AIMATRIX_APPLY_DB_URL`), and it is not the monitoring DSN: monitoring sessions are
   read-only by construction and stay that way.

It runs in autocommit (CONCURRENTLY cannot run inside a transaction block) with a `lock_timeout`
and a `statement_timeout`, then checks that the object looks as intended (the index exists and
is valid and ready / the index is gone). When a CREATE INDEX CONCURRENTLY fails half-way it leaves
an INVALID index that still slows every write; we drop it CONCURRENTLY and say so. Every executed
attempt is recorded in `ops.applied_recommendations` (who, when, what, result).
"""

from __future__ import annotations

import getpass
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dagster as dg
import pglast
import pglast.stream
import psycopg
from psycopg import sql as pgsql

from aimatrix_pipeline.remediation.allowlist import authorize
from aimatrix_pipeline.remediation.statements import Action, Refused, classify
from aimatrix_pipeline.resources.source_postgres import redact_dsn
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import ConfigError, Project, current_settings
from aimatrix_pipeline.sql_files import load_sql

DEFAULT_APPLY_ENV = "AIMATRIX_APPLY_DB_URL"
APPLICATION_NAME = "aimatrix_pipeline_apply"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


def own_fingerprint(query: str) -> str | None:
    """The fingerprint pg_stat_statements' text of a statement we sent will get (psycopg sends
    `%(name)s` / `%s` as `$1`, `$2`, ...), as the extract computes it (libpg_query)."""
    from aimatrix_pipeline.querytext import analyse

    names: dict[str, int] = {}
    counter = iter(range(1, 10_000))

    def number(m: re.Match) -> str:
        key = m.group(1) or f"_{len(names)}"
        if key not in names:
            names[key] = next(counter)
        return f"${names[key]}"

    result = analyse(_PLACEHOLDER.sub(number, query))
    return result.fingerprint if result.parse_ok else None


class OwnStatementsConnection(psycopg.Connection):
    """A psycopg connection that remembers every statement text it sent.

    Their fingerprints are recorded with the attempt (`verification.own_fingerprints`), and
    analytics.slow_queries_summary leaves them out: an index build `apply` ran must not become
    the top slow query it was meant to fix.
    """

    def execute(self, query, params=None, **kwargs):
        text = query if isinstance(query, str) else query.as_string(self)
        self.__dict__.setdefault("own_statements", []).append(text)
        return super().execute(query, params, **kwargs)


def _seq_scans(conn: psycopg.Connection, schema: str | None, table: str) -> int | None:
    """The table's seq_scan counter as the server has it now (our own pending counts flushed)."""
    try:
        conn.execute("select pg_stat_clear_snapshot()")
        row = conn.execute("select seq_scan from pg_stat_user_tables where relname = %(table)s "
                           "and schemaname = coalesce(%(schema)s, current_schema())",
                           {"schema": schema, "table": table}).fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row and row[0] is not None else None


def _flush_own_stats(conn: psycopg.Connection) -> None:
    """Make this session's table counters visible at once (PG 15+; older servers flush on idle).

    `pg_stat_force_next_flush()` makes the flush at the end of this very statement unconditional,
    where it is otherwise rate-limited to once a second."""
    try:
        conn.execute("select pg_stat_force_next_flush()")
    except psycopg.Error:
        pass


class ApplyConfigError(ConfigError):
    """No usable write DSN (missing, or the same as the monitoring DSN)."""


@dataclass
class Recommendation:
    id: str
    project: str
    name: str
    level: str | None
    title: str | None
    detail: str | None
    remediation_sql: str | None
    object_schema: str | None
    object_name: str | None
    impact: int | None
    last_seen: datetime | None
    metadata: dict


@dataclass
class Outcome:
    result: str                       # succeeded | failed | refused
    message: str
    actions: list[Action] = field(default_factory=list)
    cleanup: str | None = None
    verification: dict = field(default_factory=dict)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempt_id: str | None = None


def load_recommendation(warehouse: WarehouseResource, rec_id: str) -> Recommendation | None:
    with warehouse.reader() as conn:
        cur = conn.execute(load_sql("warehouse/appsignals/apply_recommendation.sql"), {"id": rec_id})
        cols = [d[0] for d in cur.description]
        rows = cur.fetchall()
    if not rows:
        return None
    r = dict(zip(cols, rows[0]))
    meta = r.pop("metadata")
    try:
        r["metadata"] = json.loads(meta) if isinstance(meta, str) else (meta or {})
    except ValueError:
        r["metadata"] = {"raw": meta}
    return Recommendation(**r)


def plan(rec: Recommendation) -> list[Action]:
    """The statements `apply` runs for `rec`: parsed, of allowed kinds, of the kinds its finding
    allows and on its own object. Refused (with the reason) for anything else."""
    try:
        actions = classify(rec.remediation_sql)
    except UnicodeDecodeError:  # a statement's text could not be cut from the script at its offsets
        raise Refused("the remediation SQL's statements could not be separated exactly; refusing") from None
    return authorize(rec.name, rec.object_schema, rec.object_name, rec.metadata, actions)


def _env(name: str) -> str | None:
    try:
        return dg.EnvVar(name).get_value() or None
    except Exception:  # noqa: BLE001 - EnvVar raises different types across versions
        return None


def write_dsn_env(project: Project) -> str:
    return str((project.extra or {}).get("apply_db_url_env") or DEFAULT_APPLY_ENV)


def resolve_write_dsn(project: Project) -> tuple[str, str]:
    """(env var name, DSN) of the database connection allowed to write; never the monitoring one."""
    env_name = write_dsn_env(project)
    if env_name == project.db_url_env:
        raise ApplyConfigError(
            f"project {project.name!r}: apply_db_url_env names the monitoring DSN variable "
            f"{project.db_url_env}; configure a separate DSN that is allowed to write"
        )
    dsn = _env(env_name)
    if not dsn:
        raise ApplyConfigError(
            f"environment variable {env_name} is not set: apply needs a DSN allowed to write "
            f"(set {env_name}, or name another variable as apply_db_url_env of project {project.name!r})"
        )
    if dsn == _env(project.db_url_env):
        raise ApplyConfigError(
            f"{env_name} holds the same DSN as the monitoring variable {project.db_url_env}; "
            "the monitoring connection is read-only by design, use a separate DSN for apply"
        )
    return env_name, dsn


# ---------------------------------------------------------------------------------- database
_INDEX_STATE = load_sql("source/remediation/index_state.sql")
_TABLE_STATE = load_sql("source/remediation/table_maintenance.sql")


def index_state(conn: psycopg.Connection, schema: str | None, name: str) -> dict | None:
    row = conn.execute(_INDEX_STATE, {"schema": schema, "name": name}).fetchone()
    if not row:
        return None
    return {"schema": row[0], "index": row[1], "table": row[2], "valid": row[3], "ready": row[4],
            "definition": row[5]}


def _set_lock_timeout(conn: psycopg.Connection, ms: int) -> None:
    conn.execute(pgsql.SQL("SET lock_timeout = {}").format(pgsql.Literal(f"{int(ms)}ms")))


def _drop_invalid(conn: psycopg.Connection, state: dict, timeouts: tuple[int, int]) -> str:
    """Drop an INVALID index left by a failed build. It waits for the same transactions that made
    the build fail, so it gets its own, longer lock_timeout (`timeouts` = (cleanup, normal))."""
    ident = pgsql.Identifier(state["schema"], state["index"])
    try:
        _set_lock_timeout(conn, timeouts[0])
        try:
            conn.execute(pgsql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(ident))
        finally:
            _set_lock_timeout(conn, timeouts[1])
    except psycopg.Error as exc:
        return (f"the invalid index {state['schema']}.{state['index']} could NOT be dropped "
                f"({_describe(exc)}); drop it by hand: DROP INDEX CONCURRENTLY {ident.as_string(conn)};")
    if index_state(conn, state["schema"], state["index"]) is None:
        return f"dropped the invalid index {state['schema']}.{state['index']} left behind (DROP INDEX CONCURRENTLY)"
    return f"the invalid index {state['schema']}.{state['index']} is still present after DROP INDEX CONCURRENTLY"


def _describe(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return "lock_timeout reached: another session holds a conflicting lock or a long transaction is open"
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "statement_timeout reached"
    text = redact_dsn(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def index_shape(statement: str) -> tuple | None:
    """What makes two CREATE INDEX statements build the same index: table, method, uniqueness,
    key columns or expressions (with their order and operator classes), included columns and
    predicate, as pglast parses them (quoting and spacing do not count, nor the index's name)."""
    try:
        stmt = pglast.parse_sql(statement)[0].stmt
    except pglast.parser.ParseError:
        return None
    if not isinstance(stmt, pglast.ast.IndexStmt):
        return None

    def canon(node) -> str:
        return pglast.stream.RawStream()(node) if node is not None else ""

    return (stmt.relation.relname, (stmt.accessMethod or "btree").lower(), bool(stmt.unique),
            tuple(canon(p) for p in stmt.indexParams or ()), tuple(canon(p) for p in stmt.indexIncludingParams or ()),
            canon(stmt.whereClause))


def _shown_definition(definition: str) -> str:
    from aimatrix_pipeline.terminal import escape

    return escape(definition)[:300]


def _run_create(conn, action: Action, verification: dict, timeouts: tuple[int, int]) -> tuple[bool, str, str | None]:
    before = index_state(conn, action.schema, action.name)
    if before is not None and action.table and before["table"] != action.table:
        verification[action.name] = before
        return (False, (f"an index named {before['schema']}.{action.name} already exists on table "
                f"{before['table']}, not on {action.table}; nothing was changed"), None)
    if before is not None and index_shape(before["definition"]) != index_shape(action.sql):
        verification[action.name] = before
        return (False, (f"an index named {before['schema']}.{action.name} already exists with another definition "
                        f"({_shown_definition(before['definition'])}), not the one this finding creates; "
                        "nothing was changed: drop or rename that index, or create this one under another name"), None)
    if before is not None and before["valid"] and before["ready"]:
        verification[action.name] = {**before, "already_present": True}
        return True, f"index {before['schema']}.{action.name} already exists and is valid; nothing to do", None
    if before is not None:
        verification[action.name] = before
        message = (f"an INVALID index {before['schema']}.{action.name} already exists (left by an earlier "
                   "failed build); drop it first (DROP INDEX CONCURRENTLY) or apply the invalid_index finding")
        return False, message, None
    scans_before = _seq_scans(conn, action.schema, action.table) if action.table else None
    try:
        conn.execute(action.sql)
    except psycopg.Error as exc:
        reason = _describe(exc)
        after = index_state(conn, action.schema, action.name)
        verification[action.name] = after or {"exists": False}
        cleanup = _drop_invalid(conn, after, timeouts) if after is not None and not after["valid"] else None
        return False, f"CREATE INDEX CONCURRENTLY failed: {reason}", cleanup
    if scans_before is not None:
        # the heap scans of the build itself (and of anything that scanned the table meanwhile):
        # the seq-scan finding subtracts them (optimization_recommendations.sql, seq_window)
        _flush_own_stats(conn)
        scans_after = _seq_scans(conn, action.schema, action.table)
        if scans_after is not None and scans_after >= scans_before:
            verification.setdefault("own_seq_scans", []).append(
                {"schema": action.schema, "table": action.table, "scans": scans_after - scans_before})
    after = index_state(conn, action.schema, action.name)
    verification[action.name] = after or {"exists": False}
    if after is None:
        return False, f"CREATE INDEX CONCURRENTLY reported success but index {action.name} does not exist", None
    if not (after["valid"] and after["ready"]):
        return False, f"index {after['schema']}.{action.name} was built but is not valid", _drop_invalid(conn, after, timeouts)
    if action.table and after["table"] != action.table:
        return False, f"index {after['schema']}.{action.name} is on table {after['table']}, not {action.table}", None
    return True, f"created index {after['schema']}.{action.name}; it is valid and ready", None


def _run_drop(conn, action: Action, verification: dict) -> tuple[bool, str, str | None]:
    before = index_state(conn, action.schema, action.name)
    try:
        conn.execute(action.sql)
    except psycopg.Error as exc:
        after = index_state(conn, action.schema, action.name)
        verification[action.name] = {"before": before, "after": after}
        note = None
        if after is not None and not after["valid"]:
            note = ("the index is left INVALID by the interrupted drop (it no longer serves reads but is "
                    "still maintained on writes); run apply again to finish the drop")
        return False, f"DROP INDEX CONCURRENTLY failed: {_describe(exc)}", note
    after = index_state(conn, action.schema, action.name)
    verification[action.name] = {"before": before, "exists_after": after is not None}
    if after is not None:
        return False, f"index {action.name} still exists after DROP INDEX CONCURRENTLY", None
    if before is None:
        return True, f"index {action.name} did not exist; nothing to drop", None
    return True, f"dropped index {before['schema']}.{action.name}; it is gone", None


def _run_maintenance(conn, action: Action, verification: dict, started: datetime) -> tuple[bool, str, str | None]:
    try:
        conn.execute(action.sql)
    except psycopg.Error as exc:
        return False, f"{action.kind.upper()} failed: {_describe(exc)}", None
    # statistics reach pg_stat_user_tables asynchronously: poll briefly, never fail on it
    column = "last_vacuum" if action.kind == "vacuum" else "last_analyze"
    seen = {}
    for _ in range(10):
        seen = {}
        for schema, table in action.tables:
            row = conn.execute(_TABLE_STATE, {"schema": schema, "table": table}).fetchone()
            seen[f"{row[0]}.{row[1]}" if row else f"{schema}.{table}"] = (
                {"last_vacuum": row[2], "last_analyze": row[3]} if row else None)
        if all(v and v[column] and v[column] >= started for v in seen.values()):
            break
        time.sleep(0.2)
    verification[action.name] = {k: ({c: (t.isoformat() if t else None) for c, t in v.items()} if v else None)
                                 for k, v in seen.items()}
    fresh = all(v and v[column] and v[column] >= started for v in seen.values())
    note = "" if fresh else f" ({column} not yet visible in pg_stat_user_tables)"
    return True, f"{action.kind.upper()} of {', '.join(seen)} completed{note}", None


def execute(dsn: str, actions: list[Action], *, lock_timeout_ms: int, statement_timeout_ms: int,
            cleanup_lock_timeout_ms: int = 60_000) -> Outcome:
    """Run the actions in autocommit with the timeouts; stop at the first failure."""
    outcome = Outcome("succeeded", "", actions=actions, started_at=datetime.now(UTC))
    messages, cleanups = [], []
    try:
        conn = OwnStatementsConnection.connect(dsn, autocommit=True, application_name=APPLICATION_NAME,
                                               connect_timeout=10)
    except psycopg.Error as exc:
        outcome.result, outcome.message = "failed", f"cannot connect with the write DSN: {_describe(exc)}"
        outcome.finished_at = datetime.now(UTC)
        return outcome
    try:
        _set_lock_timeout(conn, lock_timeout_ms)
        conn.execute(pgsql.SQL("SET statement_timeout = {}").format(pgsql.Literal(f"{int(statement_timeout_ms)}ms")))
        outcome.verification["role"] = conn.execute("select current_user").fetchone()[0]
        for action in actions:
            if action.kind == "create_index":
                ok, msg, cleanup = _run_create(conn, action, outcome.verification,
                                               (cleanup_lock_timeout_ms, lock_timeout_ms))
            elif action.kind == "drop_index":
                ok, msg, cleanup = _run_drop(conn, action, outcome.verification)
            else:
                ok, msg, cleanup = _run_maintenance(conn, action, outcome.verification, outcome.started_at)
            messages.append(msg)
            if cleanup:
                cleanups.append(cleanup)
            if not ok:
                outcome.result = "failed"
                break
    finally:
        conn.close()
        sent = conn.__dict__.get("own_statements", [])
        outcome.verification["own_fingerprints"] = sorted(
            {fp for fp in (own_fingerprint(q) for q in sent) if fp})
    outcome.message = "; ".join(messages)
    outcome.cleanup = "; ".join(cleanups) or None
    outcome.finished_at = datetime.now(UTC)
    return outcome


# ---------------------------------------------------------------------------------- record
def applied_by() -> str:
    """`AIMATRIX_APPLIED_BY` from the settings, else the OS user name."""
    who = current_settings().applied_by
    if who:
        return who
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no user name in some containers (no passwd entry)
        return "unknown"


def record(warehouse: WarehouseResource, rec: Recommendation, outcome: Outcome, statement: str) -> str:
    attempt = str(uuid.uuid4())
    kinds = sorted({a.kind for a in outcome.actions})
    with warehouse.transaction() as conn:
        conn.execute(
            load_sql("warehouse/appsignals/applied_recommendation.insert.sql"),
            {
                "id": attempt, "recommendation_id": rec.id, "project": rec.project, "name": rec.name,
                "object_schema": rec.object_schema, "object_name": rec.object_name, "statement": statement,
                "statement_kind": ",".join(kinds) or None, "applied_by": applied_by(),
                "started_at": outcome.started_at or datetime.now(UTC),
                "finished_at": outcome.finished_at, "result": outcome.result, "message": outcome.message,
                "cleanup": outcome.cleanup, "verification": json.dumps(outcome.verification, default=str),
            },
        )
    outcome.attempt_id = attempt
    return attempt


def refused(message: str) -> Outcome:
    now = datetime.now(UTC)
    return Outcome("refused", message, started_at=now, finished_at=now)


__all__ = [
    "ApplyConfigError", "Outcome", "Recommendation", "Refused", "classify", "execute", "load_recommendation",
    "plan", "record", "refused", "resolve_write_dsn",
]
