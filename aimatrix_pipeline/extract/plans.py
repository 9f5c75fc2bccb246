"""Plan history: the generic plan of each of a project's top statements, kept on a cadence.

Why: the warehouse already holds every pg_stat_statements delta, so when a statement gets slower
we can say whether its plan changed at the same time (analytics.plan_changes, and the cause column
of analytics.query_regressions), and after an index is built we can see which plans use it
(analytics.index_impact).

Which statements: the top fingerprints by total time in the last window of the deltas already in
the warehouse (`AIMATRIX_PLAN_CAPTURE_WINDOW_HOURS`, ending at the newest delta), at most
`AIMATRIX_PLAN_CAPTURE_TOP`. Each fingerprint is represented by its queryid with the most time;
its normalised text is read from pg_stat_statements at capture time (the warehouse keeps only
literal-free previews) and explained with `explain.generic_plan` (never executed, never ANALYZE),
bounded by a per-statement timeout.

A statement that cannot be explained is a row with a status, never a failed asset: the
monitoring role may lack SELECT on a table (EXPLAIN checks the same privileges as the query:
`permission_denied`), a text may be no SELECT/INSERT/UPDATE/DELETE (`not_explainable`), the text
may have left pg_stat_statements (`text_unavailable`), or the planner may hit the timeout.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
import pyarrow as pa

from aimatrix_pipeline.extract import explain
from aimatrix_pipeline.extract.snapshots import _statements_schema
from aimatrix_pipeline.extract.source_errors import SourceQueryError
from aimatrix_pipeline.extract.source_errors import explain as explain_error
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource, redact_dsn
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Project
from aimatrix_pipeline.shared.errors import redacted
from aimatrix_pipeline.sql_files import load_sql

TABLE = "query_plans"
SNAPSHOT_NAME = "query_plans"
OK = "ok"
PERMISSION_DENIED = "permission_denied"
NOT_EXPLAINABLE = "not_explainable"
TEXT_UNAVAILABLE = "text_unavailable"
TIMEOUT = "timeout"
ERROR = "error"
STATUSES = (OK, PERMISSION_DENIED, NOT_EXPLAINABLE, TEXT_UNAVAILABLE, TIMEOUT, ERROR)

_SCHEMA = pa.schema([
    ("fingerprint", pa.string()), ("dbid", pa.int64()), ("queryid", pa.int64()),
    ("query_preview", pa.string()), ("window_total_time_ms", pa.float64()), ("window_calls", pa.int64()),
    ("rank", pa.int32()), ("status", pa.string()), ("error", pa.string()), ("plan_hash", pa.string()),
    ("total_cost", pa.float64()), ("plan_rows", pa.float64()), ("relations", pa.list_(pa.string())),
    ("indexes", pa.list_(pa.string())), ("node_types", pa.list_(pa.string())), ("plan_json", pa.string()),
    ("explain_ms", pa.float64()), ("server_version_num", pa.int32()),
])


@dataclass
class Target:
    fingerprint: str
    dbid: int | None
    queryid: int
    query_preview: str | None
    total_time_ms: float
    calls: int
    rank: int


@dataclass
class CaptureResult:
    rows: int
    statuses: dict[str, int]
    changed: list[str]                       # fingerprints whose plan hash differs from their last capture
    data: pa.Table
    seconds_on_source: float                 # wall time spent on the monitored database
    notes: list[str] = field(default_factory=list)


def top_targets(warehouse: WarehouseResource, project: str, limit: int, window_hours: float) -> list[Target]:
    """The top `limit` fingerprints by total time in the last `window_hours` of deltas."""
    if not warehouse.file.exists():
        return []
    with warehouse.writer() as conn:
        rows = conn.execute(load_sql("warehouse/raw/query_plans.targets.sql"),
                            {"project": project, "top": int(limit), "window_hours": float(window_hours)}).fetchall()
    return [Target(fp, dbid, qid, prev, total or 0.0, calls or 0, rank)
            for fp, dbid, qid, prev, total, calls, rank in rows]


def _walk(node: dict):
    yield node
    for child in node.get("Plans") or ():
        yield from _walk(child)


def plan_objects(plan: dict) -> tuple[list[str], list[str], list[str]]:
    """(relations, indexes, node types) a plan touches, sorted and distinct. Names are
    schema-qualified when the plan carries the schema (VERBOSE plans do), else bare."""
    rels, idxs, nodes = set(), set(), set()
    for node in _walk(plan):
        nodes.add(str(node.get("Node Type")))
        if node.get("Relation Name"):
            rels.add(f"{node.get('Schema') or ''}.{node['Relation Name']}".lstrip("."))
        if node.get("Index Name"):
            idxs.add(f"{node.get('Schema') or ''}.{node['Index Name']}".lstrip("."))
    return sorted(rels), sorted(idxs), sorted(nodes)


def _status_of(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return PERMISSION_DENIED
    if isinstance(exc, (psycopg.errors.QueryCanceled, psycopg.errors.LockNotAvailable)):
        return TIMEOUT
    return ERROR


def _first_line(exc: BaseException) -> str:
    lines = redact_dsn(str(exc)).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:500]


def _previous_hashes(warehouse: WarehouseResource, project: str, before: datetime) -> dict[str, str]:
    """fingerprint -> plan hash of its latest successful capture before `before`."""
    if not warehouse.file.exists():
        return {}
    with warehouse.writer() as conn:
        rows = conn.execute(
            "select fingerprint, arg_max(plan_hash, captured_at) from raw.query_plans "
            "where project = ? and status = 'ok' and captured_at < ? group by fingerprint",
            [project, before]).fetchall()
    return dict(rows)


def explain_targets(conn: psycopg.Connection, schema: str, targets: list[Target], timeout_ms: int) -> list[dict]:
    """One row per target (status and plan): the texts come from pg_stat_statements now."""
    texts: dict[int, str] = {}
    if targets:
        schema_sql = psycopg.sql.Identifier(schema).as_string(conn)
        cur = conn.execute(load_sql("source/stats/pg_stat_statements_texts.sql").format(schema=schema_sql),
                           {"queryids": [t.queryid for t in targets]})
        texts = {qid: text for qid, text in cur}
    version = conn.info.server_version
    out = []
    for t in targets:
        row = {"fingerprint": t.fingerprint, "dbid": t.dbid, "queryid": t.queryid, "query_preview": t.query_preview,
               "window_total_time_ms": t.total_time_ms, "window_calls": t.calls, "rank": t.rank,
               "status": OK, "error": None, "plan_hash": None, "total_cost": None, "plan_rows": None,
               "relations": None, "indexes": None, "node_types": None, "plan_json": None, "explain_ms": None,
               "server_version_num": version}
        text = texts.get(t.queryid)
        statement = explain.explainable_statement(text) if text else None
        if text is None:
            row["status"] = TEXT_UNAVAILABLE
        elif statement is None:
            row["status"] = NOT_EXPLAINABLE
        else:
            started = time.perf_counter()
            try:
                plan = explain.generic_plan(conn, statement, timeout_ms=timeout_ms)
            except psycopg.Error as exc:
                row["status"], row["error"] = _status_of(exc), _first_line(exc)
                if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                    conn.rollback()
            except ValueError as exc:  # the text is no single explainable statement after all
                row["status"], row["error"] = NOT_EXPLAINABLE, str(exc)
            else:
                rels, idxs, nodes = plan_objects(plan)
                row.update(plan_hash=explain.plan_hash(plan), total_cost=plan.get("Total Cost"),
                           plan_rows=plan.get("Plan Rows"), relations=rels, indexes=idxs, node_types=nodes,
                           plan_json=json.dumps(plan, sort_keys=True))
            row["explain_ms"] = (time.perf_counter() - started) * 1000
        out.append(row)
    return out


def capture_plans(source: SourcePostgresResource, warehouse: WarehouseResource, project: Project,
                  captured_at: datetime, *, top: int, window_hours: float, timeout_ms: int) -> CaptureResult:
    """Capture the plans of the project's top statements and replace the capture at `captured_at`."""
    targets = top_targets(warehouse, project.name, top, window_hours)
    notes = []
    if not targets:
        notes.append("no pg_stat_statements deltas in the warehouse yet: run the statistics snapshots "
                     "and the analytics first; nothing to explain")
    rows: list[dict] = []
    started = time.perf_counter()
    if targets:
        with source.connect(project.db_url_env) as conn:
            try:
                schema = _statements_schema(conn, project.name)
                rows = explain_targets(conn, schema, targets, timeout_ms)
                conn.rollback()
            except SourceQueryError:
                raise
            except (psycopg.Error, OSError) as exc:
                raise explain_error(exc, f"raw.{TABLE}", project.name) from redacted(exc)
    seconds = time.perf_counter() - started
    data = pa.Table.from_pylist(rows, schema=_SCHEMA)
    before = _previous_hashes(warehouse, project.name, captured_at)
    changed = sorted(r["fingerprint"] for r in rows
                     if r["status"] == OK and r["fingerprint"] in before and before[r["fingerprint"]] != r["plan_hash"])
    # the JSON of a plan is stored once: a capture whose plan is the fingerprint's previous one
    # keeps the hash (and costs) only, so an hourly capture adds a few hundred bytes per statement
    stored = pa.Table.from_pylist(
        [{**r, "plan_json": None} if r["status"] == OK and before.get(r["fingerprint"]) == r["plan_hash"] else r
         for r in rows], schema=_SCHEMA)
    with warehouse.transaction() as wconn:
        wconn.execute(f"delete from raw.{TABLE} where project = ? and captured_at = ?",
                      [project.name, captured_at]).fetchall()
        if stored.num_rows:
            wconn.register("_plan_rows", stored)
            try:
                wconn.execute(f"insert into raw.{TABLE} by name select ?::varchar as project, "
                              "?::timestamptz as captured_at, * from _plan_rows",
                              [project.name, captured_at]).fetchall()
            finally:
                wconn.unregister("_plan_rows")
        wconn.execute("delete from raw.snapshot_runs where project = ? and name = ? and snapshot_at = ?",
                      [project.name, SNAPSHOT_NAME, captured_at]).fetchall()
        wconn.execute("insert into raw.snapshot_runs (project, name, snapshot_at, rows) values (?, ?, ?, ?)",
                      [project.name, SNAPSHOT_NAME, captured_at, data.num_rows]).fetchall()
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    if statuses.get(PERMISSION_DENIED):
        notes.append(f"{statuses[PERMISSION_DENIED]} statement(s) could not be explained: the monitoring role "
                     "may not read their tables (EXPLAIN needs the query's own privileges). Grant SELECT on "
                     "those tables to the role to get their plans; the rows keep status permission_denied.")
    return CaptureResult(data.num_rows, statuses, changed, data, seconds, notes)


# -- Dagster UI -------------------------------------------------------------------------------------
def _node_line(node: dict) -> str:
    parts = [str(node.get("Node Type"))]
    if node.get("Index Name"):
        parts.append(f"using {node['Index Name']}")
    if node.get("Relation Name"):
        parts.append(f"on {node['Relation Name']}")
    cost = node.get("Total Cost")
    if cost is not None:
        parts.append(f"(cost {cost:,.2f}, rows {node.get('Plan Rows', '?')})")
    for key in ("Index Cond", "Hash Cond", "Filter"):
        if node.get(key):
            parts.append(f"{key}: {node[key]}")
    return " ".join(parts)


def plan_text(plan: dict, indent: int = 0) -> list[str]:
    """The plan as an indented tree, like EXPLAIN's text format (for the asset's metadata)."""
    lines = [("  " * indent) + ("-> " if indent else "") + _node_line(plan)]
    for child in plan.get("Plans") or ():
        lines.extend(plan_text(child, indent + 1))
    return lines


def _md_cell(text) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ").replace("`", "'")[:120]


def markdown(result: CaptureResult, max_plans: int = 10) -> str:
    """The capture as markdown: one line per statement, then the plans of the top ones."""
    lines = ["| # | fingerprint | status | plan hash | cost | indexes | changed | query |",
             "|---|---|---|---|---|---|---|---|"]
    rows = result.data.to_pylist()
    for r in rows:
        cost = "" if r["total_cost"] is None else f"{r['total_cost']:,.2f}"
        lines.append(
            f"| {r['rank']} | `{_md_cell(r['fingerprint'])}` | {r['status']} | `{r['plan_hash'] or ''}` | {cost} | "
            f"{_md_cell(', '.join(r['indexes'] or []))} | {'yes' if r['fingerprint'] in result.changed else ''} | "
            f"{_md_cell(r['query_preview'])} |")
    shown = [r for r in rows if r["status"] == OK][:max_plans]
    for r in shown:
        plan = json.loads(r["plan_json"])
        tree = "\n".join(plan_text(plan)).replace("```", "'''")
        lines += ["", f"**#{r['rank']}** `{_md_cell(r['fingerprint'])}` plan `{r['plan_hash']}`", "", "```",
                  tree, "```"]
    return "\n".join(lines)
