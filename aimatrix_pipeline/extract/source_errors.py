"""Turn driver errors from a monitored database into messages a user can act on.

psycopg and the ADBC driver raise different exception types for the same server error; both carry
the SQLSTATE. We map the common ones (no privilege, pg_stat_statements not preloaded or not
installed, timeouts, lost connection) to one clear sentence naming what is missing and how to fix
it. DSNs never appear: messages pass through `redact_dsn`.
"""

from __future__ import annotations

from aimatrix_pipeline.resources.source_postgres import SourceUnavailable, redact_dsn


class SourceQueryError(RuntimeError):
    """A query against the monitored database failed; the message says why and what to do."""


def sqlstate_of(exc: BaseException) -> str | None:
    for attr in ("sqlstate", "sql_state"):
        value = getattr(exc, attr, None)
        if value:
            return str(value)
    diag = getattr(exc, "diag", None)
    return getattr(diag, "sqlstate", None) if diag else None


def explain(exc: BaseException, what: str, project: str) -> RuntimeError:
    """A clear error for `what` (e.g. 'raw.table_stats') on `project`."""
    text = redact_dsn(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    state = sqlstate_of(exc) or ""
    lowered = text.lower()
    if "shared_preload_libraries" in lowered and "pg_stat_statements" in lowered:
        return SourceQueryError(
            f"[{project}] {what}: pg_stat_statements is installed but not preloaded. Add it to "
            "shared_preload_libraries and restart the server (Supabase preloads it; on self-hosted "
            "Postgres: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements')."
        )
    if state == "42501" or "permission denied" in lowered:
        return SourceQueryError(
            f"[{project}] {what}: permission denied ({text}). The monitoring role needs pg_monitor "
            "(GRANT pg_monitor TO <role>) and SELECT on the application's log tables."
        )
    if state == "57014" or "statement timeout" in lowered:
        return SourceQueryError(f"[{project}] {what}: the query hit statement_timeout ({text}).")
    if state == "55P03" or "lock timeout" in lowered:
        return SourceQueryError(f"[{project}] {what}: the query hit lock_timeout ({text}).")
    if state.startswith("08") or state in ("57P01", "57P02", "57P03") or "terminat" in lowered or (
        "connection" in lowered and ("closed" in lowered or "lost" in lowered or "refused" in lowered)
    ):
        return SourceUnavailable(
            f"[{project}] {what}: the monitored database went away ({text}). Nothing was written; "
            "the next run catches up."
        )
    return SourceQueryError(f"[{project}] {what}: {text}")
