"""The warehouse side of index advice: the workload it reads, the suggestions it writes.

The workload (top fingerprints of the window) and the tables' write rates are read from the
warehouse, never from the monitored database: that already holds the history. Suggestions replace
the project's rows in one transaction; `first_seen` survives from the previous run of the same id.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime

from aimatrix_pipeline.extract.index_advice.advise import (
    ENABLE_PRIVILEGE,
    ENABLE_VERIFICATION,
    UNAVAILABLE,
    AdviceRun,
    Statement,
    Suggestion,
)
from aimatrix_pipeline.sql_files import load_sql

SUGGESTION = "index_suggestion"
UNAVAILABLE_FINDING = "index_advice_unavailable"


def read_workload(conn, project: str, since: datetime, until: datetime, top: int) -> list[Statement]:
    cur = conn.execute(load_sql("warehouse/index_advice/workload.sql"),
                       {"project": project, "since": since, "until": until, "top": int(top)})
    return [Statement(fingerprint=r[0], source=r[1], query_text=r[2] or "", calls=int(r[3]), mean_ms=float(r[5]),
                      calls_per_day=float(r[6]), queryids=[int(q) for q in r[7] or []]) for r in cur.fetchall()]


def read_write_rates(conn, project: str, since: datetime, until: datetime) -> dict[tuple[str, str], float | None]:
    cur = conn.execute(load_sql("warehouse/index_advice/write_rates.sql"),
                       {"project": project, "since": since, "until": until})
    return {(r[0], r[1]): r[2] for r in cur.fetchall()}


def _id(project: str, *parts) -> str:
    return hashlib.md5("|".join([project, *map(str, parts)]).encode("utf-8")).hexdigest()


def _shown(name: str) -> str:
    """A name read from the database, shown in text: quoted and escaped, never able to break a line."""
    return json.dumps(name, ensure_ascii=True)


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2f} ms"


def suggestion_row(project: str, rank: int, s: Suggestion, run_at: datetime) -> dict:
    c = s.candidate
    cols = ", ".join(_shown(x) for x in c.columns)
    verified = s.verified
    reduction = max((q.reduction for q in s.queries), default=0.0)
    lines = [f"Index on {_shown(c.schema)}.{_shown(c.table)} ({cols}) serves {len(s.queries)} of the workload's "
             f"costliest fingerprints: saves ~{_ms(s.saving_ms_per_day)}/day of query time, costs "
             f"~{_ms(s.write_overhead_ms_per_day)}/day in index writes"
             + ("" if s.writes_per_day is not None else " (write rate unknown: fewer than two statistics snapshots)")
             + f", ~{(s.size_bytes or 0) / 1048576:.1f} MB."]
    if verified:
        lines.append("Verified with hypopg: under the generic plan the planner uses the hypothetical index and "
                     "the plan's cost drops by " + ", ".join(
                         f"{1 - q.cost_after / q.cost_before if q.cost_before else 0:.0%} "
                         f"({q.cost_before:.0f} -> {q.cost_after:.0f})" for q in s.queries) + ".")
    else:
        lines.append("Unverified: judged from pg_stats selectivity only. To verify with the planner: "
                     + ENABLE_VERIFICATION + ".")
    lines.append("Queries: " + "; ".join(f"{q.fingerprint} ({q.source}, {q.calls_per_day:,.0f} calls/day, mean "
                                         f"{_ms(q.mean_ms)})" for q in s.queries))
    metadata = {
        "table": c.table, "columns": list(c.columns), "index_name": s.index_name,
        "verification": "hypopg" if verified else "unverified",
        "queries": [{"fingerprint": q.fingerprint, "source": q.source, "query": q.query[:2000],
                     "calls_per_day": q.calls_per_day, "mean_ms": q.mean_ms, "cost_before": q.cost_before,
                     "cost_after": q.cost_after, "reduction": q.reduction, "saving_ms_per_day": q.saving_ms_per_day}
                    for q in s.queries],
    }
    net = s.net_benefit_ms_per_day
    return {
        "project": project, "id": _id(project, SUGGESTION, c.schema, c.table, *c.columns), "name": SUGGESTION,
        "category": "index", "level": "warning" if verified else "info",
        "title": f"Create index {_shown(s.index_name)} on {_shown(c.schema)}.{_shown(c.table)} ({cols})",
        "detail": " ".join(lines), "remediation_sql": s.create_sql(),
        "impact": max(1, min(10, int(round(1 + math.log10(max(net, 0) + 1))))), "effort": 2,
        "object_schema": c.schema, "object_name": c.table, "object_key": f"{_shown(c.schema)}.{_shown(c.table)}({cols})",
        "first_seen": run_at, "last_seen": run_at, "metadata": json.dumps(metadata),
        "rank": rank, "index_name": s.index_name, "columns": list(c.columns),
        "verification": metadata["verification"], "queries": len(s.queries),
        "fingerprints": [q.fingerprint for q in s.queries], "saving_ms_per_day": s.saving_ms_per_day,
        "size_bytes": s.size_bytes, "writes_per_day": s.writes_per_day,
        "write_overhead_ms_per_day": s.write_overhead_ms_per_day, "net_benefit_ms_per_day": net,
        "cost_reduction": reduction,
    }


def unavailable_row(project: str, run: AdviceRun, run_at: datetime) -> dict:
    detail = ("No index advice: the monitoring role may neither plan the workload's statements nor read the "
              "column statistics of the application's tables (the default least-privilege role). Everything "
              "else keeps working. To get advice: " + ENABLE_PRIVILEGE + "; and for verified advice, "
              + ENABLE_VERIFICATION + ".")
    return {
        "project": project, "id": _id(project, UNAVAILABLE_FINDING), "name": UNAVAILABLE_FINDING,
        "category": "index", "level": "info", "title": "Index advice is not available with the monitoring role's "
        "privileges", "detail": detail, "remediation_sql": None, "impact": 1, "effort": 2,
        "object_schema": None, "object_name": None, "object_key": "index_advice", "first_seen": run_at,
        "last_seen": run_at, "metadata": json.dumps({"notes": run.notes, "statements": run.statements}),
        "rank": None, "index_name": None, "columns": None, "verification": None, "queries": 0,
        "fingerprints": None, "saving_ms_per_day": None, "size_bytes": None, "writes_per_day": None,
        "write_overhead_ms_per_day": None, "net_benefit_ms_per_day": None, "cost_reduction": None,
    }


def rows_for(project: str, run: AdviceRun, run_at: datetime) -> list[dict]:
    if run.mode == UNAVAILABLE:
        return [unavailable_row(project, run, run_at)]
    return [suggestion_row(project, i + 1, s, run_at) for i, s in enumerate(run.suggestions)]


_COLUMNS = ("project", "id", "name", "category", "level", "title", "detail", "remediation_sql", "impact", "effort",
            "object_schema", "object_name", "object_key", "first_seen", "last_seen", "metadata", "rank",
            "index_name", "columns", "verification", "queries", "fingerprints", "saving_ms_per_day", "size_bytes",
            "writes_per_day", "write_overhead_ms_per_day", "net_benefit_ms_per_day", "cost_reduction")


def write(conn, project: str, run: AdviceRun, run_at: datetime, window_hours: float) -> int:
    """Replace the project's suggestions and record the run, in one transaction."""
    rows = rows_for(project, run, run_at)
    conn.execute("begin")
    try:
        previous = dict(conn.execute("select id, first_seen from analytics.index_suggestions where project = $p",
                                     {"p": project}).fetchall())
        conn.execute("delete from analytics.index_suggestions where project = $p", {"p": project})
        placeholders = ", ".join(f"${c}" for c in _COLUMNS)
        for row in rows:
            row = {**row, "first_seen": previous.get(row["id"]) or row["first_seen"]}
            conn.execute(f"insert into analytics.index_suggestions ({', '.join(_COLUMNS)}) values ({placeholders})",
                         row)
        conn.execute(
            "insert into analytics.index_advice_runs values ($project, $run_at, $mode, $window_hours, $statements, "
            "$explainable, $skipped, $not_permitted, $failed, $candidates, $hypo, $suggestions, $seconds, "
            "$explain_seconds, $notes)",
            {"project": project, "run_at": run_at, "mode": run.mode, "window_hours": window_hours,
             "statements": run.statements, "explainable": run.explainable, "skipped": run.skipped_unparseable,
             "not_permitted": run.not_permitted, "failed": run.failed, "candidates": run.candidates,
             "hypo": run.hypothetical_indexes, "suggestions": len(run.suggestions), "seconds": run.seconds,
             "explain_seconds": run.explain_seconds, "notes": "\n".join(run.notes) or None})
        conn.execute("commit")
    except Exception:
        conn.execute("rollback")
        raise
    return len(rows)


def markdown(rows: list[dict], limit: int = 10) -> str:
    """The top suggestions as a markdown table for the Dagster UI (names escaped)."""
    if not rows:
        return "No index suggested."
    if rows[0]["name"] == UNAVAILABLE_FINDING:
        return rows[0]["detail"]
    out = ["| # | index | queries | saving ms/day | write ms/day | size MB | verified |", "|---|---|---|---|---|---|---|"]
    for r in rows[:limit]:
        label = r["object_key"].replace("|", "\\|").replace("`", "'")
        out.append(f"| {r['rank']} | `{label}` | {r['queries']} | {r['saving_ms_per_day']:,.0f} | "
                   f"{r['write_overhead_ms_per_day']:,.1f} | {(r['size_bytes'] or 0) / 1048576:.1f} | "
                   f"{r['verification']} |")
    return "\n".join(out)
