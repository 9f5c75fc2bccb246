"""The reference grant script (sql/demo/06_monitoring_role.sql) on the shapes users have.

It must run unchanged on a plain PostgreSQL and on a Supabase-like database, grant only on what
exists, and leave the role able to read exactly what the pipeline reads: the extracts and the
usage (MAU, storage) queries work, password hashes, emails, phone numbers and session IPs do not.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from aimatrix_pipeline.cost import usage
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.sql_files import load_sql
from tests.extract.helpers import ALL_ASSETS, failed_steps, materialize
from tests.extract.shapes import make_shape

PASSWORD = "monitor-secret"


def monitor_url(db) -> str:
    return db.server.url(db.name, user=demo_db.MONITOR_ROLE, password=PASSWORD)


def as_monitor(db, query: str, params=None):
    with psycopg.connect(monitor_url(db), autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


@pytest.fixture(params=["plain", "design_doc", "demo"])
def shaped(request, source_db):
    """A database of each shape on the cluster source_db runs on (PG 15 and 18)."""
    db = make_shape(source_db.server, request.param)
    yield request.param, db
    source_db.server.drop_database(db.name)


def test_grant_script_runs_unchanged_and_extracts_work(shaped, warehouse, monkeypatch):
    shape, db = shaped
    demo_db.create_monitoring_role(db.url, PASSWORD)
    demo_db.create_monitoring_role(db.url, PASSWORD)  # re-runnable
    monkeypatch.setenv("SUPABASE_DB_URL", monitor_url(db))
    result = materialize(ALL_ASSETS, warehouse, raise_on_error=False)
    assert failed_steps(result) == {}
    with warehouse.reader() as conn:
        logs = conn.execute("select count(*) from raw.query_performance_logs").fetchone()[0]
        statements = conn.execute("select count(*) from raw.pg_stat_statements_snapshots").fetchone()[0]
    assert statements > 0
    assert logs == (0 if shape == "plain" else 30)


SECRET_COLUMNS = [
    ("auth.users", "encrypted_password"), ("auth.users", "email"), ("auth.users", "phone"),
    ("auth.users", "raw_user_meta_data"), ("auth.sessions", "ip"), ("auth.sessions", "user_agent"),
    ("auth.audit_log_entries", "ip_address"), ("auth.audit_log_entries", "payload"),
    ("storage.objects", "name"), ("storage.objects", "user_metadata"),
    ("app.customers", "email"),
]


def test_role_reads_only_the_columns_the_pipeline_uses(source_db):
    demo_db.create_monitoring_role(source_db.url, PASSWORD)
    source_db.execute("insert into auth.users (id, email, encrypted_password, last_sign_in_at) "
                      "values (gen_random_uuid(), 'a@example.com', 'hash', now())")
    for table, column in SECRET_COLUMNS:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_monitor(source_db, f"select {column} from {table} limit 1")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_monitor(source_db, "select * from auth.users limit 1")
    # what the usage extract reads still works, with the role
    today = date.today()
    cycle_start = datetime(today.year, today.month, 1, tzinfo=timezone.utc)
    params = {"cycle_start": cycle_start, "end_exclusive": datetime.now(timezone.utc),
              "start": cycle_start, "start_day": today, "end_day": today}
    for name in ("mau_last_sign_in", "storage_by_bucket", "database_size"):
        as_monitor(source_db, load_sql(f"source/usage/{name}.sql"), params)
    mau = as_monitor(source_db, load_sql("source/usage/mau_last_sign_in.sql"), params)
    assert sum(row[1] for row in mau) >= 1


def test_role_counts_sign_ins_through_the_view_without_the_audit_payload(source_db):
    """MAU from the audit log reads four derived columns of login/token_refreshed entries through
    aimatrix_monitoring.auth_sign_ins; the payload (emails, IP addresses) stays unreadable."""
    demo_db.create_monitoring_role(source_db.url, PASSWORD)
    actor = "7b0c2a9e-0000-4000-8000-000000000001"
    source_db.execute(
        "insert into auth.audit_log_entries (id, payload, created_at) values "
        "(gen_random_uuid(), jsonb_build_object('action', 'login', 'actor_id', %(a)s::text, "
        "'actor_username', 'someone@example.com'), now()), "
        "(gen_random_uuid(), jsonb_build_object('action', 'user_signedup', 'actor_id', 'other', "
        "'actor_username', 'other@example.com'), now())", {"a": actor})
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_monitor(source_db, "select payload from auth.audit_log_entries limit 1")
    view_rows = as_monitor(source_db, "select * from aimatrix_monitoring.auth_sign_ins")
    assert [r for r in view_rows if r[2] == actor], "the login must be visible through the view"
    assert all(r[1] in ("login", "token_refreshed") for r in view_rows)
    assert "someone@example.com" not in repr(view_rows) and "other" not in {r[2] for r in view_rows}

    now = datetime.now(timezone.utc)
    cycle_start = datetime(now.year, now.month, 1, tzinfo=timezone.utc)
    params = {"cycle_start": cycle_start, "end_exclusive": now + timedelta(minutes=1), "start": cycle_start}
    with psycopg.connect(monitor_url(source_db), autocommit=True) as conn:
        assert "aimatrix_monitoring.auth_sign_ins" in usage.sign_ins_query(conn, "mau_audit_log")
        assert conn.execute(usage.sign_ins_query(conn, "audit_log_available"), params).fetchone()[0]
        mau = conn.execute(usage.sign_ins_query(conn, "mau_audit_log"), params).fetchall()
    assert sum(row[1] for row in mau) >= 1
    # the database owner (no view privilege needed) reads the log itself: same answer
    with psycopg.connect(source_db.url, autocommit=True) as conn:
        source_db.execute("drop view aimatrix_monitoring.auth_sign_ins")
        assert "auth.audit_log_entries" in usage.sign_ins_query(conn, "mau_audit_log")
        assert sum(r[1] for r in conn.execute(usage.sign_ins_query(conn, "mau_audit_log"), params).fetchall()) \
            == sum(row[1] for row in mau)
