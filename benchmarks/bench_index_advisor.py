"""Benchmark: our index advice beside Supabase's index_advisor, and what the advice costs the database.

1. Quality, on the test fixture (tests/index_advice/workload.py: three statements that need an
   index, four decoys): a PostgreSQL 15 cluster with hypopg gets Supabase's index_advisor
   (benchmarks/vendor/supabase_index_advisor.sql, 0.2.0, PostgreSQL licence) and each statement is
   given to it one by one, as its users do; the same statements are given to our advice as one
   workload. Reported: the needed indexes each finds, the decoys each suggests. Goal: ours finds
   at least what index_advisor finds, and suggests fewer decoys.
2. Cost on the monitored database: the advice over the top 50 fingerprints (50 distinct statements
   over the fixture's tables), --repeat times: wall time per run and per fingerprint, the share
   spent planning, hypothetical indexes created; beside index_advisor's time per statement on the
   same 50 statements (the baseline of the same run).

Usage: python benchmarks/bench_index_advisor.py [--repeat 5] [--workdir DIR]
Results: benchmarks/results/index_advisor.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pglast
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from workdir import workdir

from aimatrix_pipeline.demo.local_postgres import LocalPostgres, debian_bin_dir
from aimatrix_pipeline.extract.index_advice.advise import AdviceSettings, Statement, advise
from tests.index_advice import workload as fixture

VENDORED = ROOT / "benchmarks" / "vendor" / "supabase_index_advisor.sql"
RESULTS = ROOT / "benchmarks" / "results" / "index_advisor.json"


def normalised(query: str) -> str:
    """The fixture's psycopg text as pg_stat_statements records it: %s -> $1, $2, ..."""
    n = 0
    out = []
    for part in query.split("%s"):
        out.append(part)
        n += 1
        out.append(f"${n}")
    return "".join(out[:-1])


def statements_of(queries: dict) -> list[Statement]:
    return [Statement(label, "pg_stat_statements", normalised(q), 1000, 5.0, 24_000.0)
            for label, (q, _p) in queries.items()]


def top50() -> dict[str, tuple[str, object]]:
    """50 distinct statements over the fixture's tables (equalities, pairs, ranges, sorts, joins)."""
    cols = ["customer_id", "region_id", "channel_id", "status", "priority", "sku", "id"]
    out = {}
    for c in cols:
        out[f"eq {c}"] = (f"select id, total from orders where {c} = %s", None)
        out[f"eq {c} order total"] = (f"select id from orders where {c} = %s order by total limit 10", None)
        out[f"eq {c} range total"] = (f"select id from orders where {c} = %s and total > %s", None)
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            out[f"eq {a},{b}"] = (f"select total from orders where {a} = %s and {b} = %s", None)
    out["join items"] = ("select i.line from orders o join order_items i on i.order_id = o.id where o.id = %s", None)
    out["join items by customer"] = ("select i.line from orders o join order_items i on i.order_id = o.id "
                                     "where o.customer_id = %s", None)
    out["items by order"] = ("select * from order_items where order_id = %s", None)
    out["items by order and line"] = ("select * from order_items where order_id = %s and line = %s", None)
    out["items quantity"] = ("select * from order_items where quantity = %s", None)
    out["countries"] = ("select code from countries where name = %s", None)
    out["group region"] = ("select region_id, count(*) from orders where channel_id = %s group by region_id", None)
    out["in customers"] = ("select id from orders where customer_id in (%s, %s, %s)", None)
    out["range total"] = ("select id from orders where total between %s and %s", None)
    out["update total"] = ("update orders set total = %s where customer_id = %s", None)
    out["delete items"] = ("delete from order_items where order_id = %s", None)
    out["sku like"] = ("select id from orders where sku like %s", None)
    return dict(list(out.items())[:50])


def index_advisor(conn: psycopg.Connection, text: str) -> tuple[list[tuple[str, tuple[str, ...]]], list[str], float]:
    """index_advisor's suggestions for one statement (it runs `deallocate all`: the session must not
    rely on prepared statements, hence prepare_threshold = None on its connections)."""
    started = time.perf_counter()
    with conn.transaction():
        row = conn.execute("select index_statements, errors from index_advisor(%s)", (text,)).fetchone()
    seconds = time.perf_counter() - started
    found = []
    for stmt_text in row[0] or []:
        stmt = pglast.parse_sql(stmt_text)[0].stmt
        found.append((stmt.relation.relname, tuple(p.name for p in stmt.indexParams)))
    return found, list(row[1] or []), seconds


def is_decoy(table: str, cols: tuple[str, ...]) -> bool:
    return (table, cols[0]) in fixture.DECOY_COLUMNS or (table == "orders" and bool({"status", "priority"} & set(cols)))


def needed_found(found: set[tuple[str, tuple[str, ...]]]) -> list[str]:
    out = []
    for _schema, table, cols in sorted(fixture.EXPECTED):
        if (table, cols) in found:
            out.append(f"{table}({', '.join(cols)})")
    if any(t == "orders" and set(c) == fixture.TWO_COLUMNS for t, c in found):
        out.append("orders(region_id, channel_id)")
    elif any(t == "orders" and c and c[0] in fixture.TWO_COLUMNS for t, c in found):
        out.append("orders(region_id or channel_id alone: one of the two columns)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    bin_dir = debian_bin_dir(15)
    if bin_dir is None:
        sys.exit("Debian's postgresql-15 (and postgresql-15-hypopg) is needed")
    work = workdir(args.workdir, "aimatrix-index-advisor-")
    server = LocalPostgres(work / "pg15", bin_dir=bin_dir).start()
    try:
        url = server.create_database("advised")
        fixture.install(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create extension if not exists hypopg")
            conn.execute(VENDORED.read_text())

        # 1. quality on the fixture
        queries = {**fixture.NEEDED, **fixture.DECOYS}
        theirs: set[tuple[str, tuple[str, ...]]] = set()
        errors = {}
        with psycopg.connect(url, prepare_threshold=None) as conn:
            for label, (q, _p) in queries.items():
                found, errs, _s = index_advisor(conn, normalised(q))
                theirs.update(found)
                if errs:
                    errors[label] = errs
            run = advise(conn, statements_of(queries), AdviceSettings(), {})
        ours = {(s.candidate.table, s.candidate.columns) for s in run.suggestions}
        quality = {
            "index_advisor": {"suggested": sorted(f"{t}({', '.join(c)})" for t, c in theirs),
                              "needed_found": needed_found(theirs),
                              "decoys": sorted(f"{t}({', '.join(c)})" for t, c in theirs if is_decoy(t, c)),
                              "errors": errors},
            "ours": {"suggested": sorted(f"{t}({', '.join(c)})" for t, c in ours),
                     "needed_found": needed_found(ours),
                     "decoys": sorted(f"{t}({', '.join(c)})" for t, c in ours if is_decoy(t, c))},
        }
        quality["ours_finds_at_least_theirs"] = set(quality["index_advisor"]["needed_found"]) - {
            "orders(region_id or channel_id alone: one of the two columns)"} <= set(quality["ours"]["needed_found"])
        quality["ours_fewer_decoys"] = len(quality["ours"]["decoys"]) < len(quality["index_advisor"]["decoys"]) or (
            len(quality["ours"]["decoys"]) == 0 == len(quality["index_advisor"]["decoys"]))

        # 2. cost over the top 50
        fifty = top50()
        work_items = statements_of(fifty)
        runs, per_fp, explain_share, hypos, theirs_per_stmt = [], [], [], [], []
        with psycopg.connect(url, prepare_threshold=None) as conn:
            for _ in range(args.repeat):
                started = time.perf_counter()
                r = advise(conn, work_items, AdviceSettings(), {})
                wall = time.perf_counter() - started
                runs.append(wall)
                per_fp.append(wall / len(work_items))
                explain_share.append(r.explain_seconds / wall)
                hypos.append(r.hypothetical_indexes)
                theirs_total = 0.0
                for item in work_items:
                    theirs_total += index_advisor(conn, item.query_text)[2]
                theirs_per_stmt.append(theirs_total / len(work_items))
        cost = {
            "fingerprints": len(work_items), "repeat": args.repeat,
            "run_seconds_median": round(statistics.median(runs), 3),
            "per_fingerprint_ms_median": round(1000 * statistics.median(per_fp), 2),
            "planning_share_median": round(statistics.median(explain_share), 3),
            "hypothetical_indexes_per_run": hypos[0], "suggestions": len(r.suggestions),
            "index_advisor_per_statement_ms_median": round(1000 * statistics.median(theirs_per_stmt), 2),
            "ratio_ours_per_fingerprint_vs_index_advisor_per_statement": round(
                statistics.median(per_fp) / statistics.median(theirs_per_stmt), 2),
        }
        result = {"measured": datetime.now(UTC).isoformat(timespec="seconds"), "quality": quality, "cost": cost}
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        server.stop("immediate")


if __name__ == "__main__":
    main()
