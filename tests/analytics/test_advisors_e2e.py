"""Security advisors and the index/table accuracy fixes, end to end on PG 15 and PG 18: a seeded
database (tests/analytics/fixtures/advisors.sql, each true case next to its decoys) read through
the real extract, the analytics SQL, then every remediation executed on the database and the
next run checked: the finding is gone.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import psycopg

from tests.analytics.helpers import FIXTURES, findings, project_for, run_analytics, run_remediation, snapshot

THRESHOLDS = dict(unused_index_min_bytes=500_000, bloat_min_bytes=200_000)
SECURITY_NAMES = {
    "rls_disabled_in_public", "rls_enabled_no_policy", "policy_exists_rls_disabled", "auth_rls_initplan",
    "multiple_permissive_policies", "auth_users_exposed", "security_definer_view",
    "anon_security_definer_function_executable", "authenticated_security_definer_function_executable",
    "function_search_path_mutable", "extension_in_public", "materialized_view_in_api", "foreign_table_in_api",
}
# physical replication slots are cluster-wide: names unique to this test process
SLOT = f"adv_slot_{os.getpid()}"
IDLE_SLOT = f"adv_idle_slot_{os.getpid()}"

# (name, schema, object) found on the first run
TRUE_CASES = {
    ("rls_disabled_in_public", "api", "notes"),
    ("rls_enabled_no_policy", "api", "vault_items"),
    ("policy_exists_rls_disabled", "private", "posts"),
    ("auth_rls_initplan", "api", "profiles"),
    ("multiple_permissive_policies", "api", "todos"),
    ("auth_users_exposed", "api", "user_emails"),
    ("security_definer_view", "api", "user_emails"),
    ("anon_security_definer_function_executable", "api", "reset_all"),
    ("authenticated_security_definer_function_executable", "api", "reset_all"),
    ("function_search_path_mutable", "api", "Touch Updated"),
    ("extension_in_public", "public", "hstore"),
    ("extension_versions_outdated", "public", "hstore"),
    ("materialized_view_in_api", "api", "todo_stats"),
    ("foreign_table_in_api", "api", "remote_items"),
    ("duplicate_index", "adv", "orders by status copy"),
    ("duplicate_index", "adv", "orders_code_uniq"),
    ("duplicate_index", "adv", "logs_ref_idx2"),
    ("no_primary_key", "adv", "ledger"),
    ("seq_scan_heavy_table", "adv", "scanned"),
    ("sequence_exhaustion", "adv", "wide_seq"),
    ("sequence_exhaustion", "adv", "lonely_seq"),
    ("not_valid_constraint", "adv", "ledger"),
    ("not_valid_constraint", "adv", "loose"),
    ("replication_slot_inactive", None, SLOT),
    ("table_bloat", "adv", "bloated"),
    ("index_bloat", "adv", "bloated_pkey"),
}
DECOYS = {
    ("rls_disabled_in_public", "private", "notes"),          # schema not exposed
    ("rls_disabled_in_public", "api", "internal_stats"),     # no privilege for the API roles
    ("rls_disabled_in_public", "public", "open_notes"),      # the setting replaced the default `public`
    ("rls_enabled_no_policy", "private", "locked"),
    ("rls_enabled_no_policy", "api", "profiles"),
    ("policy_exists_rls_disabled", "api", "profiles"),
    ("auth_rls_initplan", "api", "todos"),                   # wrapped in (select auth.uid())
    ("auth_rls_initplan", "private", "posts"),               # RLS is off (its own finding)
    ("multiple_permissive_policies", "api", "docs"),         # one per role; the other is restrictive
    ("auth_users_exposed", "private", "user_emails"),
    ("security_definer_view", "private", "user_emails"),
    ("security_definer_view", "api", "my_todos"),            # security_invoker
    ("security_definer_view", "api", "todo_count"),          # the API roles cannot read it
    ("anon_security_definer_function_executable", "api", "admin_reset"),
    ("authenticated_security_definer_function_executable", "api", "admin_reset"),
    ("anon_security_definer_function_executable", "private", "reset_all"),
    ("anon_security_definer_function_executable", "api", "count_todos"),
    ("function_search_path_mutable", "api", "reset_all"),
    ("function_search_path_mutable", "api", "count_todos"),
    ("extension_in_public", "extensions", "citext"),
    ("extension_versions_outdated", "extensions", "citext"),
    ("materialized_view_in_api", "private", "todo_stats"),
    ("materialized_view_in_api", "api", "hidden_stats"),
    ("foreign_table_in_api", "private", "remote_items"),
    ("duplicate_index", "adv", "Orders By Status"),          # the copy that is kept
    ("duplicate_index", "adv", "Orders Open"),               # a predicate
    ("duplicate_index", "adv", "orders_code_key"),           # the constraint's index
    ("duplicate_index", "adv", "orders_code_lower_key"),
    ("unused_index", "adv", "logs_ref_idx"),                 # the duplicate finding keeps it
    ("duplicate_index", "adv", "logs_ref_idx"),
    ("seq_scan_heavy_table", "adv", "rebuilt"),              # its seq scans were index builds
    ("no_primary_key", "api", "todo_stats"),                 # a materialized view has no primary key
    ("sequence_exhaustion", "adv", "big_ref_id_seq"),        # bigint column
    ("sequence_exhaustion", "adv", "Odd Seq"),
    ("replication_slot_inactive", None, IDLE_SLOT),          # reserves no WAL
    ("table_bloat", "adv", "logs"),                          # freshly loaded
    ("table_bloat", "adv", "scanned"),
    ("index_bloat", "adv", "logs_ref_idx"),
    ("index_bloat", "adv", "scanned_pkey"),
}


def triples(rows) -> set[tuple[str, str, str]]:
    return {(r["name"], r["object_schema"], r["object_name"]) for r in rows}


def seed(source_db) -> None:
    source_db.execute((FIXTURES / "advisors.sql").read_text())
    with source_db.connect(autocommit=True) as conn:
        conn.execute("select pg_create_physical_replication_slot(%s, true)", (SLOT,))
        conn.execute("select pg_create_physical_replication_slot(%s, false)", (IDLE_SLOT,))
        for _ in range(60):  # every CREATE INDEX reads the table sequentially
            conn.execute("create index rebuilt_tmp on adv.rebuilt (sku)")
            conn.execute("drop index adv.rebuilt_tmp")
        for table in ("orders", "logs", "ledger", "loose", "scanned", "rebuilt", "bloated"):
            conn.execute(f"vacuum analyze adv.{table}")


def drop_slots(source_db) -> None:
    source_db.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                      "where slot_name in (%s, %s)", (SLOT, IDLE_SLOT))


def test_advisors_find_every_case_no_decoy_and_remediations_clear_them(source_db, warehouse, monkeypatch):
    drop_slots(source_db)
    try:
        _advisors_e2e(source_db, warehouse, monkeypatch)
    finally:
        drop_slots(source_db)


def _advisors_e2e(source_db, warehouse, monkeypatch):
    seed(source_db)
    project = project_for(monkeypatch, source_db)
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    snapshot(warehouse, project, t0)
    with source_db.connect(autocommit=True) as conn:
        for _ in range(60):
            conn.execute("select count(*) from adv.scanned where sku = 'none'")
        for i in range(5):  # index scans only on the rebuilt table
            conn.execute("select sku from adv.rebuilt where id = %s", (i + 1,))
    t1 = snapshot(warehouse, project, t0 + timedelta(minutes=5))
    run_analytics(warehouse, project, as_of=t1, **THRESHOLDS)
    rows = findings(warehouse, "p1")
    found = triples(rows)
    assert TRUE_CASES <= found, f"missing: {TRUE_CASES - found}"
    assert not (DECOYS & found), f"decoys reported: {DECOYS & found}"

    by = {(r["name"], r["object_schema"], r["object_name"]): r for r in rows}
    for key in TRUE_CASES:
        r = by[key]
        assert 1 <= r["impact"] <= 10 and 1 <= r["effort"] <= 10 and r["title"] and r["detail"]
        assert r["remediation_sql"]
    security = {k[0] for k in TRUE_CASES if k[0] in SECURITY_NAMES}
    assert security == SECURITY_NAMES
    for r in rows:
        if r["name"] in SECURITY_NAMES:
            assert r["category"] == "security", r["name"]
    sql = {k: by[k]["remediation_sql"] for k in TRUE_CASES}
    assert sql[("rls_disabled_in_public", "api", "notes")].startswith(
        'ALTER TABLE "api"."notes" ENABLE ROW LEVEL SECURITY;')
    assert sql[("function_search_path_mutable", "api", "Touch Updated")].endswith(
        'ALTER ROUTINE "api"."Touch Updated"(n integer) SET search_path = \'\';')
    initplan = sql[("auth_rls_initplan", "api", "profiles")]
    assert initplan.startswith('ALTER POLICY "own profile" ON "api"."profiles" USING (')
    assert "(SELECT auth.uid())" in initplan and "(SELECT current_setting(" in initplan
    assert sql[("duplicate_index", "adv", "orders by status copy")] == \
        'DROP INDEX CONCURRENTLY IF EXISTS "adv"."orders by status copy";'
    assert by[("duplicate_index", "adv", "orders_code_uniq")]["metadata"] and \
        '"covered_by":"orders_code_key"' in by[("duplicate_index", "adv", "orders_code_uniq")]["metadata"].replace(" ", "")
    assert sql[("sequence_exhaustion", "adv", "wide_seq")].endswith(
        'ALTER TABLE "adv"."wide_ref" ALTER COLUMN "id" TYPE bigint;')
    assert "integer" in by[("sequence_exhaustion", "adv", "wide_seq")]["detail"]
    assert sql[("sequence_exhaustion", "adv", "lonely_seq")] == 'ALTER SEQUENCE "adv"."lonely_seq" AS bigint;'
    assert sql[("no_primary_key", "adv", "ledger")].endswith(
        'ALTER TABLE "adv"."ledger" ADD PRIMARY KEY USING INDEX "ledger_entry_no_key";')
    loose = by[("no_primary_key", "adv", "loose")]["remediation_sql"]
    assert "USING INDEX" not in loose and all(line.startswith("--") for line in loose.splitlines())
    # the diagnostic query names pg_stat_statements with its schema: runs without it on the path
    seq_sql = sql[("seq_scan_heavy_table", "adv", "scanned")]
    assert 'FROM "extensions".pg_stat_statements' in seq_sql
    with psycopg.connect(source_db.url, autocommit=True) as conn:
        conn.execute("set search_path = pg_catalog")
        conn.execute(seq_sql.splitlines()[-1])

    # never a set of drops that leaves a queried column without an index
    drops = [r["remediation_sql"] for r in rows
             if r["object_schema"] == "adv" and r["remediation_sql"].startswith("DROP INDEX")
             and "logs" in r["object_name"]]
    assert len(drops) >= 1
    for statement in drops:
        run_remediation(source_db.url, statement)
    assert source_db.execute(
        "select count(*) from pg_indexes where schemaname = 'adv' and tablename = 'logs' "
        "and indexdef like '%(ref)'") == [(1,)]

    # every remediation that changes something, run as is; the steps-only ones by hand
    fixed = TRUE_CASES - {("seq_scan_heavy_table", "adv", "scanned"), ("multiple_permissive_policies", "api", "todos"),
                          ("duplicate_index", "adv", "logs_ref_idx2")}
    for key in sorted(fixed):
        assert run_remediation(source_db.url, sql[key]) >= 1, key
    source_db.execute("""
        begin;
        create policy "own or shared todos" on api.todos for select to authenticated
            using (user_id = (select auth.uid()) or shared);
        drop policy "own todos" on api.todos;
        drop policy "shared todos" on api.todos;
        commit;""")

    t2 = snapshot(warehouse, project, t1 + timedelta(minutes=5))
    run_analytics(warehouse, project, as_of=t2, **THRESHOLDS)
    again = triples(findings(warehouse, "p1"))
    still = (TRUE_CASES - {("seq_scan_heavy_table", "adv", "scanned")}) & again
    assert not still, f"still reported after the remediation: {still}"
    # enabling RLS on private.posts made its policy apply: now its per-row auth.uid() counts;
    # with its copy gone, logs_ref_idx is judged on its own (unused) again
    assert ("auth_rls_initplan", "private", "posts") in again
    back = (DECOYS - {("auth_rls_initplan", "private", "posts"), ("unused_index", "adv", "logs_ref_idx")}) & again
    assert not back, back


def test_a_slot_whose_connected_consumer_lags_is_retaining_wal_until_the_consumer_goes(source_db, warehouse,
                                                                                         monkeypatch):
    """replication_slot_retaining_wal: an ACTIVE slot (a real physical replication connection that
    never confirms what it received) holding back more WAL than the threshold. Its remediation,
    the diagnostic query, runs; once the consumer disconnects, the finding is the inactive one."""
    import psycopg2
    import psycopg2.extras

    slot = f"adv_lag_slot_{os.getpid()}"
    source_db.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s",
                      (slot,))
    start = source_db.execute("select lsn from pg_create_physical_replication_slot(%s, true)", (slot,))[0][0]
    # the walsender's timeout is the connection's own setting (PG 12+): no feedback needed while it waits
    consumer = psycopg2.connect(source_db.url, options="-c wal_sender_timeout=0",
                                connection_factory=psycopg2.extras.PhysicalReplicationConnection)
    try:
        consumer.cursor().start_replication(slot_name=slot, start_lsn=str(start))
        source_db.execute("create table lag_wal as select g, repeat('x', 200) as pad from generate_series(1, 5000) g")
        assert source_db.execute("select active from pg_replication_slots where slot_name = %s", (slot,)) == [(True,)]
        project = project_for(monkeypatch, source_db)
        t0 = snapshot(warehouse, project, names=("replication_slots",))
        run_analytics(warehouse, project, as_of=t0, replication_slot_max_retained_bytes=100_000)
        lagging = [r for r in findings(warehouse, "p1") if r["object_name"] == slot]
        assert [r["name"] for r in lagging] == ["replication_slot_retaining_wal"]
        assert "retains" in lagging[0]["title"]
        assert run_remediation(source_db.url, lagging[0]["remediation_sql"]) == 1
    finally:
        consumer.close()
    try:
        for _ in range(100):  # the walsender notices the closed connection
            if source_db.execute("select active from pg_replication_slots where slot_name = %s", (slot,)) == [(False,)]:
                break
            time.sleep(0.1)
        t1 = snapshot(warehouse, project, at=t0 + timedelta(minutes=5), names=("replication_slots",))
        run_analytics(warehouse, project, as_of=t1, replication_slot_max_retained_bytes=100_000)
        assert [r["name"] for r in findings(warehouse, "p1") if r["object_name"] == slot] == \
            ["replication_slot_inactive"]
    finally:
        source_db.execute("select pg_drop_replication_slot(%s)", (slot,))
        source_db.execute("drop table if exists lag_wal")
