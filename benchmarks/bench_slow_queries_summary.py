"""Benchmark: analytics.slow_queries_summary over 10,000,000 app-log rows with 5,000 distinct query
texts, against a bare DuckDB GROUP BY of the same rows, measured in the same run.

    python benchmarks/bench_slow_queries_summary.py [--rows N] [--texts N] [--repeat N]

"Ours" = extract-side fingerprinting of the distinct texts (querytext.analyse, once per text, as
the extract does) + the summary SQL (join to raw.query_texts, group by fingerprint and hour,
p50/p95/p99, share of time, the summary filter, delete-then-insert into the table).
"Baseline" = `group by text_hash, hour` with count/sum/max over the same rows, into a temp table.
The ratio ours / baseline is printed (goal: under 2x). Timings are the median of --repeat runs.
Nothing is written outside a temporary directory.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pyarrow as pa

from aimatrix_pipeline import querytext
from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.shared.thresholds import load_thresholds
from aimatrix_pipeline.sql_files import load_sql

PROJECT = "bench"
SHAPES = (
    "SELECT * FROM {t}orders o JOIN {t}customers c ON c.id = o.customer_id WHERE o.status = '{s}' AND o.total > {n}",
    "SELECT id, email FROM {t}users WHERE email = 'user{n}@example.com'",
    "UPDATE {t}accounts SET balance = balance - {n} WHERE id = {n}",
    "SELECT count(*) FROM {t}events WHERE created_at > now() - interval '{n} minutes' AND kind = '{s}'",
    "INSERT INTO {t}audit_log (actor, action, amount) VALUES ('{s}', 'pay', {n})",
    "SELECT p.* FROM {t}products p WHERE p.id IN (SELECT product_id FROM {t}order_items WHERE qty > {n})",
)


def _letters(n: int) -> str:
    # table prefixes without digits: libpg_query's fingerprint folds digits in relation names
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(ord("a") + r) + out
        if n == 0:
            return "t" + out


def make_texts(count: int) -> list[str]:
    """`count` distinct texts: each statement shape over count / 30 table prefixes, with 5 literal
    variants each (so about count / 5 fingerprints, like an app that inlines its literals)."""
    texts = []
    for i in range(count):
        variant, literal = divmod(i, 5)
        shape = SHAPES[variant % len(SHAPES)]
        texts.append(shape.format(t=_letters(variant // len(SHAPES)) + "_", s=f"s{literal}", n=literal + 1))
    assert len(set(texts)) == count
    return texts


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--texts", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-sqs-") as tmp:
        conn = duckdb.connect(str(Path(tmp) / "bench.duckdb"), config={"threads": args.threads, "memory_limit": "2GB"})
        conn.execute(load_sql("warehouse/ddl/10_raw.sql"))
        conn.execute(load_sql("warehouse/ddl/20_analytics.sql"))
        texts = make_texts(args.texts)
        hashes = [hashlib.md5(t.encode()).hexdigest() for t in texts]
        conn.register("_bench_texts", pa.table({"i": list(range(len(hashes))), "text_hash": hashes}))
        conn.execute("create table bench_texts as select * from _bench_texts")
        now = datetime.now(timezone.utc)
        print(f"generating {args.rows:,} log rows over {args.texts:,} texts ...", file=sys.stderr)
        conn.execute(
            """
            insert into raw.query_performance_logs (project, id, query_hash, text_hash, query_length,
                execution_time_ms, rows_returned, created_at)
            select $project, ('00000000-0000-0000-0000-' || lpad(r::varchar, 12, '0'))::uuid, t.text_hash, t.text_hash, 80,
                   1000 + (hash(r) % 3000)::double / 3, (hash(r * 7) % 100)::bigint,
                   $now - to_seconds((hash(r * 13) % (29 * 86400))::bigint)
            from range($rows) g(r)
            join bench_texts t on t.i = (hash(r * 31) % $texts)::integer
            """,
            {"project": PROJECT, "now": now, "rows": args.rows, "texts": args.texts},
        )
        conn.execute("checkpoint")

        def fingerprint():
            # as the extract does: analyse each distinct text once, hand the batch to DuckDB as Arrow
            analysed = [querytext.analyse(t) for t in texts]
            batch = pa.table({
                "text_hash": hashes,
                "fingerprint": [a.fingerprint for a in analysed],
                "query_preview": [a.preview for a in analysed],
                "parse_ok": [a.parse_ok for a in analysed],
            })
            conn.execute("delete from raw.query_texts where project = $p", {"p": PROJECT})
            conn.register("_texts", batch)
            conn.execute("insert into raw.query_texts by name select $p as project, * from _texts", {"p": PROJECT})
            conn.unregister("_texts")

        params = derive.base_params(PROJECT, load_thresholds(env={}), as_of=now)

        def summary():
            conn.execute("begin")
            derive.replace_rows(conn, "slow_queries_summary", params)
            conn.execute("commit")

        def baseline():
            conn.execute(
                "create or replace temp table bare as select text_hash, date_trunc('hour', created_at) as h, "
                "count(*) as n, sum(execution_time_ms) as total, max(execution_time_ms) as mx, "
                "sum(rows_returned) as r from raw.query_performance_logs where project = $p group by all",
                {"p": PROJECT},
            )

        t_fp, t_sum, t_base = [], [], []
        for _ in range(args.repeat):
            t_base.append(timed(baseline))
            t_fp.append(timed(fingerprint))
            t_sum.append(timed(summary))
        fp, sm, base = (statistics.median(x) for x in (t_fp, t_sum, t_base))
        groups = conn.execute("select count(*), count(distinct fingerprint) from analytics.slow_queries_summary").fetchone()
        print(f"rows                    {args.rows:,}")
        print(f"distinct texts          {args.texts:,}  (fingerprints: {groups[1]:,}; summary rows: {groups[0]:,})")
        print(f"baseline GROUP BY       {base:8.3f} s")
        print(f"fingerprinting          {fp:8.3f} s")
        print(f"summary SQL             {sm:8.3f} s")
        print(f"ratio (fp + summary) / baseline = {(fp + sm) / base:.2f}x   (goal < 2x)")
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
