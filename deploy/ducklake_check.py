"""Smoke check of a DuckLake warehouse before switching AIMATRIX_WAREHOUSE to it.

Applies the warehouse DDL to the catalog, writes and reads rows in a transaction, runs a retention
pass, and shows that two concurrent writers that delete-then-insert into one table both commit
(the resource's commit lock orders them; without it DuckLake rejects the later commit whole). Needs
the `lake` extra: the version-matched duckdb-extension-* packages.

Usage: python deploy/ducklake_check.py --catalog "ducklake:postgres:host=... dbname=... user=..."
           --data-path /var/lib/aimatrix/lake     (password: PGPASSWORD or ~/.pgpass)
"""

from __future__ import annotations

import argparse
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimatrix_pipeline.fleet import retention
from aimatrix_pipeline.resources.ducklake_warehouse import DuckLakeWarehouseResource

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalog", required=True)
    parser.add_argument("--data-path", required=True)
    args = parser.parse_args()
    lake = DuckLakeWarehouseResource(path=args.catalog, data_path=args.data_path)
    project = "ducklake-check"

    with lake.writer() as conn:
        tables = conn.execute("select count(*) from information_schema.tables where table_catalog = 'warehouse'").fetchone()[0]
    print(f"schema applied: {tables} tables")
    with lake.transaction() as conn:
        conn.execute("delete from raw.table_stats where project = ?", [project])
        conn.execute(
            "insert into raw.table_stats (project, snapshot_at, relid) "
            "select ?, ?::timestamptz + to_minutes(5 * i), 1 from range(600) t(i)", [project, T0]
        )
    with lake.reader() as conn:
        rows = conn.execute("select count(*) from raw.table_stats where project = ?", [project]).fetchone()[0]
        masked = conn.execute("select raw.mask_literals('select 1 where a = ''x''')").fetchone()[0]
    print(f"transaction + reader: {rows} rows; macro: {masked}")
    result = retention.run_retention(lake, retention.RetentionPolicy(full_days=0, hourly_days=1),
                                     now=T0 + timedelta(days=2))
    print(f"retention: removed {result.rows_removed['table_stats']}, kept {result.rows_kept['table_stats']}")

    failures: list[str] = []

    def writer(who: str) -> None:
        for _ in range(5):
            try:
                with lake.transaction() as conn:
                    conn.execute("delete from raw.table_stats where project = ?", [f"{project}-{who}"])
                    conn.execute("insert into raw.table_stats (project, snapshot_at, relid) values (?, now(), 1)",
                                 [f"{project}-{who}"])
            except Exception as exc:  # noqa: BLE001 - counted and shown
                failures.append(f"{who}: {str(exc).splitlines()[-1][:160]}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"concurrent delete-then-insert writers: {len(failures)} of 10 commits rejected")
    for f in failures[:3]:
        print(f"  {f}")
    with lake.transaction() as conn:
        conn.execute("delete from raw.table_stats where project like ?", [f"{project}%"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
