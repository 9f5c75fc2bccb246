"""`aimatrix-pipeline apply` against the embedded PostgreSQL 18, with real findings in the warehouse."""

from __future__ import annotations

import json
import threading
import time

import psycopg

from aimatrix_pipeline.cli import main

FK_INDEX_STATE = (
    "select c.relname, i.indisvalid, i.indisready from pg_index i join pg_class c on c.oid = i.indexrelid "
    "join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace "
    "where n.nspname = 'app' and t.relname = 'order_items' and pg_get_indexdef(i.indexrelid) like '%(product_id)%'"
)


def _fk_finding(env) -> dict:
    return env.finding("unindexed_foreign_key", "order_items")


def test_dry_run_is_the_default_and_nothing_runs_without_confirmation(apply_env, capsys):
    f = _fk_finding(apply_env)
    assert main(["apply", f["id"]]) == 0
    out = capsys.readouterr().out
    assert f["remediation_sql"].strip() in out and "dry run: nothing was executed" in out
    assert '"constraint"' in out  # the evidence is shown
    assert main(["apply", f["id"], "--dry-run"]) == 0
    assert apply_env.source.execute(FK_INDEX_STATE) == []
    assert apply_env.attempts() == []


def test_confirmed_apply_creates_a_valid_index_records_it_and_the_finding_disappears(apply_env, capsys):
    f = _fk_finding(apply_env)
    assert main(["apply", f["id"], "--confirm"]) == 0
    out = capsys.readouterr().out
    assert "result: succeeded" in out and "valid and ready" in out
    [(name, valid, ready)] = apply_env.source.execute(FK_INDEX_STATE)
    assert valid and ready
    [attempt] = apply_env.attempts()
    assert attempt["recommendation_id"] == f["id"] and attempt["result"] == "succeeded"
    assert attempt["applied_by"] == "dba@example.test" and attempt["statement_kind"] == "create_index"
    assert attempt["statement"].startswith("CREATE INDEX CONCURRENTLY") and attempt["finished_at"] >= attempt["started_at"]
    verification = json.loads(attempt["verification"])
    assert verification[name]["valid"] is True and verification["role"] == "postgres"
    after = apply_env.refresh_findings()
    assert not [x for x in after if x["name"] == "unindexed_foreign_key" and x["object_name"] == "order_items"]
    assert f["id"] not in {x["id"] for x in after}


def _wait_for_waiting_drop(url: str, stop: threading.Event) -> bool:
    """True once the apply session's DROP INDEX CONCURRENTLY is waiting on a lock."""
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            row = conn.execute(
                "select 1 from pg_stat_activity where application_name = 'aimatrix_pipeline_apply' "
                "and query ilike 'DROP INDEX CONCURRENTLY%' and wait_event_type = 'Lock'"
            ).fetchone()
            if row:
                return True
            time.sleep(0.05)
    return False


def test_lock_timeout_leaves_an_invalid_index_which_is_dropped_and_reported(apply_env, capsys):
    f = _fk_finding(apply_env)
    blocker = psycopg.connect(apply_env.write_url)  # an open writer transaction on the table
    blocker.execute("lock table app.order_items in row exclusive mode")
    stop = threading.Event()

    def release_when_cleanup_waits():
        if _wait_for_waiting_drop(apply_env.write_url, stop):
            blocker.commit()

    t = threading.Thread(target=release_when_cleanup_waits, daemon=True)
    t.start()
    try:
        code = main(["apply", f["id"], "--confirm", "--lock-timeout-ms", "300"])
    finally:
        stop.set()
        t.join(10)
        blocker.close()
    out = capsys.readouterr().out
    assert code == 1
    assert "lock_timeout reached" in out and "dropped the invalid index" in out
    assert apply_env.source.execute(FK_INDEX_STATE) == []  # nothing invalid left behind
    [attempt] = apply_env.attempts()
    assert attempt["result"] == "failed" and "lock_timeout" in attempt["message"]
    assert attempt["cleanup"].startswith("dropped the invalid index")
    # the finding is still there (nothing changed) and a later apply succeeds
    assert f["id"] in {x["id"] for x in apply_env.refresh_findings()}
    assert main(["apply", f["id"], "--confirm"]) == 0


def test_cleanup_that_cannot_finish_is_reported_with_the_statement_to_run(apply_env, capsys):
    f = _fk_finding(apply_env)
    blocker = psycopg.connect(apply_env.write_url)
    blocker.execute("lock table app.order_items in row exclusive mode")
    try:
        code = main(["apply", f["id"], "--confirm", "--lock-timeout-ms", "200", "--cleanup-lock-timeout-ms", "200"])
    finally:
        blocker.rollback()
        blocker.close()
    out = capsys.readouterr().out
    assert code == 1 and "could NOT be dropped" in out and "DROP INDEX CONCURRENTLY" in out
    [(name, valid, _)] = apply_env.source.execute(FK_INDEX_STATE)
    assert valid is False  # reported, not hidden; a second apply refuses to build over it
    assert main(["apply", f["id"], "--confirm"]) == 1
    assert "INVALID index" in capsys.readouterr().out
    apply_env.source.execute(f'drop index concurrently app."{name}"')
    assert [a["result"] for a in apply_env.attempts()] == ["failed", "failed"]


def test_statements_that_are_not_allowed_are_refused_even_with_confirmation(apply_env, capsys):
    f = apply_env.finding("no_primary_key", "page_views")  # remediation is commented-out ALTER TABLE
    assert main(["apply", f["id"], "--confirm"]) == 1
    assert "refused: the remediation SQL holds only comments" in capsys.readouterr().out
    [attempt] = apply_env.attempts()
    assert attempt["result"] == "refused"


def test_the_monitoring_dsn_is_never_used_to_write(apply_env, monkeypatch, capsys):
    f = _fk_finding(apply_env)
    monkeypatch.setenv("P1_APPLY_DB_URL", apply_env.monitor_url)
    assert main(["apply", f["id"], "--confirm"]) == 2
    assert "same DSN as the monitoring variable P1_DB_URL" in capsys.readouterr().err
    monkeypatch.delenv("P1_APPLY_DB_URL")
    assert main(["apply", f["id"], "--confirm"]) == 2
    err = capsys.readouterr().err
    assert "P1_APPLY_DB_URL is not set" in err and "monitor-pw" not in err
    assert apply_env.source.execute(FK_INDEX_STATE) == [] and apply_env.attempts() == []


def test_unknown_id_is_a_usage_error(apply_env, capsys):
    assert main(["apply", "does-not-exist"]) == 2
    assert "no recommendation with id" in capsys.readouterr().err


def test_an_index_of_the_same_name_on_another_table_is_not_taken_for_success(apply_env, capsys):
    f = _fk_finding(apply_env)
    name = f["remediation_sql"].split("EXISTS ", 1)[1].split(" ON ", 1)[0].strip('"')
    apply_env.source.execute(f'create index "{name}" on app.orders (id)')
    assert main(["apply", f["id"], "--confirm"]) == 1
    assert "already exists on table orders, not on order_items" in capsys.readouterr().out
    assert apply_env.source.execute(FK_INDEX_STATE) == []
    assert apply_env.attempts()[0]["result"] == "failed"


def test_drop_index_and_vacuum_are_run_and_verified(source_db18):
    from aimatrix_pipeline.remediation import apply as ap

    source_db18.execute("create index orders_tmp_idx on app.orders (id)")
    out = ap.execute(source_db18.url, ap.classify('DROP INDEX CONCURRENTLY IF EXISTS "app"."orders_tmp_idx";'),
                     lock_timeout_ms=2000, statement_timeout_ms=60_000)
    assert out.result == "succeeded" and "it is gone" in out.message
    assert out.verification["orders_tmp_idx"]["exists_after"] is False
    assert source_db18.execute("select to_regclass('app.orders_tmp_idx')") == [(None,)]
    out = ap.execute(source_db18.url, ap.classify('VACUUM (ANALYZE) "app"."orders";'),
                     lock_timeout_ms=2000, statement_timeout_ms=60_000)
    assert out.result == "succeeded" and out.message.startswith("VACUUM of app.orders completed")
    [(last_vacuum,)] = source_db18.execute(
        "select last_vacuum from pg_stat_user_tables where schemaname = 'app' and relname = 'orders'")
    assert last_vacuum is not None and last_vacuum >= out.started_at
