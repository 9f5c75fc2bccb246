"""Checks of analytics/index_suggestions, run in the same step on the project's rows.

`suggestions_well_formed` guards what `aimatrix-pipeline apply` and a person pasting the SQL rely
on: unique ids, one `CREATE INDEX CONCURRENTLY` per suggestion whose quoted name fits PostgreSQL's
63 bytes (a longer one is silently truncated, and then no longer matches what we report), a
positive net benefit and scores within 1..10.
"""

from __future__ import annotations

import dagster as dg
import pglast
from pglast import ast

from aimatrix_pipeline.shared.partitions import PROJECTS_PARTITIONS

ASSET_KEY = dg.AssetKey(["analytics", "index_suggestions"])
SUGGESTIONS_WELL_FORMED = "suggestions_well_formed"

SPECS = [dg.AssetCheckSpec(
    SUGGESTIONS_WELL_FORMED, asset=ASSET_KEY,
    description="Suggestion ids are unique; each remediation is one CREATE INDEX CONCURRENTLY with a name of at "
    "most 63 bytes on the suggestion's table; net benefit > 0; impact and effort within 1..10.",
    # per project, like the asset: a range run records each project's result under its partition
    partitions_def=PROJECTS_PARTITIONS,
)]


def problems_of(rows: list[dict]) -> list[str]:
    out = []
    ids = [r["id"] for r in rows]
    if len(ids) != len(set(ids)):
        out.append("duplicate ids")
    for r in rows:
        if not (1 <= (r["impact"] or 0) <= 10 and 1 <= (r["effort"] or 0) <= 10):
            out.append(f"{r['id']}: score out of 1..10")
        if r["name"] != "index_suggestion":
            continue
        if not r["net_benefit_ms_per_day"] or r["net_benefit_ms_per_day"] <= 0:
            out.append(f"{r['id']}: net benefit not positive")
        try:
            raws = pglast.parse_sql(r["remediation_sql"] or "")
        except pglast.parser.ParseError:
            out.append(f"{r['id']}: remediation does not parse")
            continue
        stmt = raws[0].stmt if len(raws) == 1 else None
        if not isinstance(stmt, ast.IndexStmt) or not stmt.concurrent or stmt.unique:
            out.append(f"{r['id']}: remediation is not one CREATE INDEX CONCURRENTLY")
            continue
        if not stmt.idxname or len(stmt.idxname.encode("utf-8")) > 63 or stmt.idxname != r["index_name"]:
            out.append(f"{r['id']}: index name missing, longer than 63 bytes or not the one reported")
        if (stmt.relation.schemaname, stmt.relation.relname) != (r["object_schema"], r["object_name"]):
            out.append(f"{r['id']}: index on another table")
        if [p.name for p in stmt.indexParams] != list(r["columns"] or []):
            out.append(f"{r['id']}: index columns differ from the suggestion's")
    return out


def evaluate(conn, project: str) -> dg.AssetCheckResult:
    cur = conn.execute("select id, name, impact, effort, remediation_sql, index_name, object_schema, object_name, "
                       "columns, net_benefit_ms_per_day from analytics.index_suggestions where project = $p",
                       {"p": project})
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, r)) for r in cur.fetchall()]
    problems = problems_of(rows)
    return dg.AssetCheckResult(
        check_name=SUGGESTIONS_WELL_FORMED, asset_key=ASSET_KEY, passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(problems[:10]) if problems else None,
        metadata={"project": project, "offending_rows": len(problems), "rows": len(rows)},
    )
