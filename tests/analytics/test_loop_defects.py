"""Defects found by running the advisors' own remediations on a real database, one after another.

(a) An int4 column fed by a sequence near its limit: widening only the sequence moved the limit to
    the column, and the finding came back. The remediation now widens the column too (stating the
    lock and the rewrite), and after it ran the finding is gone.
(c) After a duplicate index is dropped, the index that covered it had idx_scan = 0 (the planner had
    used the duplicate) and was called unused at once: following both findings would unindex a
    queried column. The cover is now judged only after a full observation window since the drop.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.analytics.helpers import findings, project_for, run_analytics, run_remediation, snapshot

COVER = "orders_customer_created_idx"
DUPLICATE = "orders_customer_id_idx"
INDEX_SNAPSHOTS = ("index_stats", "database_stats", "table_stats", "activity", "foreign_keys")


@pytest.mark.parametrize("column", ["serial", "integer generated always as identity"])
def test_int4_column_near_its_limit_is_widened_and_the_finding_does_not_come_back(
        source_db, warehouse, monkeypatch, column):
    project = project_for(monkeypatch, source_db)
    source_db.execute(f"create table app.seq_probe (id {column} primary key, v text)")
    [(seq,)] = source_db.execute("select pg_get_serial_sequence('app.seq_probe', 'id')")
    source_db.execute("select setval(%s, 2000000000)", (seq,))
    source_db.execute("insert into app.seq_probe (v) values ('x')")
    snapshot(warehouse, project, names=("sequences",))
    run_analytics(warehouse, project)
    [f] = [f for f in findings(warehouse, project.name)
           if f["name"] == "sequence_exhaustion" and f["object_name"] == seq.split(".")[-1]]
    sql = f["remediation_sql"]
    assert 'ALTER TABLE "app"."seq_probe" ALTER COLUMN "id" TYPE bigint;' in sql
    assert "ACCESS EXCLUSIVE" in sql and "rewrites the table" in sql
    assert "ACCESS EXCLUSIVE" in f["detail"] and "rewrites the table" in f["detail"]
    assert f["effort"] == 6

    run_remediation(source_db.url, sql)
    assert source_db.execute("select format_type(atttypid, atttypmod) from pg_attribute "
                             "where attrelid = 'app.seq_probe'::regclass and attname = 'id'") == [("bigint",)]
    source_db.execute("insert into app.seq_probe (v) values ('y')")
    snapshot(warehouse, project, names=("sequences",))
    run_analytics(warehouse, project)
    assert not [f for f in findings(warehouse, project.name) if f["name"] == "sequence_exhaustion"]


def test_bigint_sequence_on_an_int4_column_widens_only_the_column(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    source_db.execute("create sequence app.wide_seq as bigint")
    source_db.execute("create table app.seq_probe2 (id integer primary key default nextval('app.wide_seq'))")
    source_db.execute("alter sequence app.wide_seq owned by app.seq_probe2.id")
    source_db.execute("select setval('app.wide_seq', 2000000000)")
    snapshot(warehouse, project, names=("sequences",))
    run_analytics(warehouse, project)
    [f] = [f for f in findings(warehouse, project.name) if f["name"] == "sequence_exhaustion"]
    assert "ALTER COLUMN" in f["remediation_sql"] and "ALTER SEQUENCE" not in f["remediation_sql"]
    run_remediation(source_db.url, f["remediation_sql"])
    snapshot(warehouse, project, names=("sequences",))
    run_analytics(warehouse, project)
    assert not [f for f in findings(warehouse, project.name) if f["name"] == "sequence_exhaustion"]


def _named(rows, name: str, obj: str) -> list[dict]:
    return [f for f in rows if f["name"] == name and f["object_name"] == obj]


def test_cover_of_a_dropped_duplicate_is_not_unused_until_a_full_window(source_db, warehouse, monkeypatch):
    project = project_for(monkeypatch, source_db)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    sizes = {"unused_index_min_bytes": 0, "unused_index_warn_days": 7.0}
    t0 = snapshot(warehouse, project, now - timedelta(days=20), names=INDEX_SNAPSHOTS)
    run_analytics(warehouse, project, as_of=t0, **sizes)
    before = findings(warehouse, project.name)
    [dup] = _named(before, "duplicate_index", DUPLICATE)
    assert COVER in dup["detail"]
    assert not _named(before, "unused_index", COVER)    # kept while its duplicate exists

    run_remediation(source_db.url, dup["remediation_sql"])     # DROP INDEX CONCURRENTLY the duplicate
    t1 = snapshot(warehouse, project, now - timedelta(days=19), names=INDEX_SNAPSHOTS)
    run_analytics(warehouse, project, as_of=t1, **sizes)
    right_after = findings(warehouse, project.name)
    assert not _named(right_after, "duplicate_index", DUPLICATE)
    assert not _named(right_after, "unused_index", COVER)        # the defect: it was called unused here
    assert _named(right_after, "unused_index", "orders_note_idx")  # other indexes are still judged

    t2 = snapshot(warehouse, project, t1 + timedelta(days=6), names=INDEX_SNAPSHOTS)
    run_analytics(warehouse, project, as_of=t2, **sizes)
    assert not _named(findings(warehouse, project.name), "unused_index", COVER)  # window not complete

    t3 = snapshot(warehouse, project, t1 + timedelta(days=7, hours=1), names=INDEX_SNAPSHOTS)
    run_analytics(warehouse, project, as_of=t3, **sizes)
    [unused] = _named(findings(warehouse, project.name), "unused_index", COVER)
    assert unused["level"] == "warning"
    assert str(t1.date()) in unused["detail"]             # observed since the drop, not since monitoring began
