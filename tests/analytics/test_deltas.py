"""Table-driven tests of the reset-aware pg_stat_statements deltas (raw rows written directly).

Each case is a sequence of snapshots (info row + statement counters) and the deltas expected per
snapshot. They pin the rules that keep deltas from going negative or double counting: resets,
evictions (counters down, statements that vanish and come back), restarts, new statements,
PG 17+ stats_since, and the baseline.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from aimatrix_pipeline.analytics import derive

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
RESET_A = datetime(2025, 12, 1, tzinfo=timezone.utc)
RESET_B = T0 + timedelta(minutes=7)
START_A = datetime(2025, 11, 1, tzinfo=timezone.utc)
START_B = T0 + timedelta(minutes=12)
DB = 5


def snap(i, stmts, *, reset=RESET_A, start=START_A, dealloc=0, dbid=DB):
    """Snapshot i (5 minutes apart) with {key: (calls, exec_ms[, stats_since])}."""
    return {"at": T0 + timedelta(minutes=5 * i), "stmts": stmts, "reset": reset, "start": start,
            "dealloc": dealloc, "dbid": dbid}


def key(queryid, toplevel=True, userid=10, dbid=DB):
    return (dbid, userid, queryid, toplevel)


Q1, Q2, Q1_NESTED, OTHER_DB = key(1), key(2), key(1, toplevel=False), key(1, dbid=99)
# another role's statement read by a monitoring role without pg_read_all_stats: no queryid
HIDDEN = key(None, userid=11)

CASES = {
    "first snapshot is a baseline": (
        [snap(0, {Q1: (10, 100.0)})],
        {},
    ),
    "normal interval subtracts": (
        [snap(0, {Q1: (10, 100.0)}), snap(1, {Q1: (15, 160.0)})],
        {1: {Q1: (5, 60.0, "normal")}},
    ),
    "unchanged statement yields no row": (
        [snap(0, {Q1: (10, 100.0), Q2: (1, 1.0)}), snap(1, {Q1: (10, 100.0), Q2: (2, 3.0)})],
        {1: {Q2: (1, 2.0, "normal")}},
    ),
    "stats_reset changed: current value, never negative nor doubled": (
        [snap(0, {Q1: (10, 100.0), Q2: (50, 500.0)}),
         snap(1, {Q1: (3, 30.0), Q2: (60, 20.0)}, reset=RESET_B)],
        {1: {Q1: (3, 30.0, "stats_reset"), Q2: (60, 20.0, "stats_reset")}},
    ),
    "counter went down (evicted and re-added within the interval)": (
        [snap(0, {Q1: (10, 100.0), Q2: (5, 5.0)}), snap(1, {Q1: (4, 400.0), Q2: (7, 9.0)}, dealloc=1)],
        {1: {Q1: (4, 400.0, "counter_reset"), Q2: (2, 4.0, "normal")}},
    ),
    "evicted statement comes back two snapshots later": (
        [snap(0, {Q1: (10, 100.0), Q2: (1, 1.0)}),
         snap(1, {Q2: (2, 2.0)}, dealloc=3),
         snap(2, {Q1: (12, 24.0), Q2: (3, 3.0)}, dealloc=3)],
        {1: {Q2: (1, 1.0, "normal")},
         2: {Q1: (12, 24.0, "new_statement"), Q2: (1, 1.0, "normal")}},
    ),
    "server restart starts a new baseline": (
        [snap(0, {Q1: (10, 100.0)}),
         snap(1, {Q1: (12, 120.0)}),
         snap(2, {Q1: (14, 140.0)}, start=START_B),
         snap(3, {Q1: (20, 200.0)}, start=START_B)],
        {1: {Q1: (2, 20.0, "normal")}, 3: {Q1: (6, 60.0, "normal")}},
    ),
    "new statement counts in full": (
        [snap(0, {Q1: (10, 100.0)}), snap(1, {Q1: (10, 100.0), Q2: (4, 40.0)})],
        {1: {Q2: (4, 40.0, "new_statement")}},
    ),
    "newer stats_since restarts the statement (PG 17+)": (
        [snap(0, {Q1: (10, 100.0, T0 - timedelta(days=1))}),
         snap(1, {Q1: (12, 36.0, T0 + timedelta(minutes=2))})],
        {1: {Q1: (12, 36.0, "stats_since")}},
    ),
    "absent before but older than the previous snapshot: history unknown, no delta": (
        [snap(0, {Q1: (10, 100.0, T0 - timedelta(days=1))}),
         snap(1, {Q1: (11, 110.0, T0 - timedelta(days=1)), Q2: (40, 400.0, T0 - timedelta(days=1))})],
        {1: {Q1: (1, 10.0, "normal")}},
    ),
    "toplevel is part of the key; other databases are ignored": (
        [snap(0, {Q1: (10, 100.0), Q1_NESTED: (100, 10.0), OTHER_DB: (1, 1.0)}),
         snap(1, {Q1: (11, 110.0), Q1_NESTED: (150, 15.0), OTHER_DB: (9, 9.0)})],
        {1: {Q1: (1, 10.0, "normal"), Q1_NESTED: (50, 5.0, "normal")}},
    ),
    "a row without its key (read without pg_read_all_stats) is never paired, never counted": (
        [snap(0, {Q1: (10, 100.0), HIDDEN: (50, 500.0)}), snap(1, {Q1: (11, 110.0), HIDDEN: (60, 600.0)})],
        {1: {Q1: (1, 10.0, "normal")}},
    ),
    "hidden in the previous snapshot, visible now (pg_read_all_stats granted): history unknown": (
        [snap(0, {Q1: (10, 100.0), HIDDEN: (50, 500.0)}),
         snap(1, {Q1: (11, 110.0), key(7, userid=11): (60, 600.0)}),
         snap(2, {Q1: (12, 120.0), key(7, userid=11): (61, 610.0)})],
        {1: {Q1: (1, 10.0, "normal")}, 2: {Q1: (1, 10.0, "normal"), key(7, userid=11): (1, 10.0, "normal")}},
    ),
    "dealloc going down means a full reset": (
        [snap(0, {Q1: (10, 100.0)}, dealloc=7), snap(1, {Q1: (11, 110.0)}, dealloc=0)],
        {1: {Q1: (11, 110.0, "stats_reset")}},
    ),
}


def load(conn, project, snaps):
    for s in snaps:
        conn.execute(
            "insert into raw.pg_stat_statements_info (project, snapshot_at, dbid, datname, dealloc, "
            "stats_reset, postmaster_start_time, server_version_num, statements_max, statements_count) "
            "values (?, ?, ?, 'app', ?, ?, ?, 170000, 5000, ?)",
            [project, s["at"], s["dbid"], s["dealloc"], s["reset"], s["start"], len(s["stmts"])],
        )
        for (dbid, userid, queryid, toplevel), counters in s["stmts"].items():
            calls, exec_ms, *since = counters
            conn.execute(
                "insert into raw.pg_stat_statements_snapshots (project, snapshot_at, userid, dbid, "
                "toplevel, queryid, calls, total_exec_time, total_plan_time, rows, max_exec_time, "
                "stats_since) values (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                [project, s["at"], userid, dbid, toplevel, queryid, calls, exec_ms, calls * 2,
                 exec_ms / max(calls, 1), since[0] if since else None],
            )


def run_deltas(warehouse, project, snaps):
    with warehouse.transaction() as conn:
        load(conn, project, snaps)
        params = derive.base_params(project)
        derive.derive(conn, "pg_stat_statements_intervals", params)
        derive.derive(conn, "pg_stat_statements_deltas", params)
        rows = conn.execute(
            "select snapshot_at, dbid, userid, queryid, toplevel, calls, total_exec_time_ms, delta_kind, rows "
            "from analytics.pg_stat_statements_deltas where project = ?",
            [project],
        ).fetchall()
    return rows


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_delta_cases(warehouse, case):
    snaps, expected = CASES[case]
    rows = run_deltas(warehouse, "p1", snaps)
    got: dict[int, dict] = {}
    index = {s["at"]: i for i, s in enumerate(snaps)}
    for at, dbid, userid, queryid, toplevel, calls, exec_ms, kind, nrows in rows:
        assert calls > 0 and exec_ms >= 0 and nrows >= 0, "deltas are never negative"
        assert nrows == 2 * calls  # every counter follows the same rule as calls
        got.setdefault(index[at], {})[(dbid, userid, queryid, toplevel)] = (calls, pytest.approx(exec_ms), kind)
    assert got == expected


def test_intervals_surface_evictions_and_kinds(warehouse):
    snaps = [snap(0, {Q1: (1, 1.0)}, dealloc=2), snap(1, {Q1: (2, 2.0)}, dealloc=9),
             snap(2, {Q1: (3, 3.0)}, dealloc=9, start=START_B), snap(3, {Q1: (1, 1.0)}, dealloc=1,
                                                                    reset=RESET_B, start=START_B)]
    run_deltas(warehouse, "p1", snaps)
    with warehouse.reader() as conn:
        rows = conn.execute(
            "select interval_kind, dealloc_delta from analytics.pg_stat_statements_intervals "
            "where project = 'p1' order by snapshot_at"
        ).fetchall()
    assert rows == [("baseline", None), ("normal", 7), ("restart", 0), ("stats_reset", 1)]


def test_rerun_replaces_and_projects_are_isolated(warehouse):
    snaps = [snap(0, {Q1: (10, 100.0)}), snap(1, {Q1: (15, 160.0)})]
    run_deltas(warehouse, "p1", snaps)
    run_deltas(warehouse, "p2", snaps)
    with warehouse.transaction() as conn:  # a second run of p1 over the same raw rows
        params = derive.base_params("p1")
        derive.derive(conn, "pg_stat_statements_intervals", params)
        derive.derive(conn, "pg_stat_statements_deltas", params)
        counts = conn.execute(
            "select project, count(*), sum(calls) from analytics.pg_stat_statements_deltas "
            "group by project order by project"
        ).fetchall()
    assert counts == [("p1", 1, 5), ("p2", 1, 5)]
