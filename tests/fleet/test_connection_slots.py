"""Per-source connection cap: never more than max_connections of our sessions on one source.

Real PG 18 sessions are counted in the server's own pg_stat_activity while connections are held
open in threads; a subprocess holding a slot shows the cap holds across processes too.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from aimatrix_pipeline.resources.source_postgres import (
    APPLICATION_NAME,
    SourceBusy,
    SourcePostgresResource,
    connection_slot,
)


def _our_sessions(db) -> int:
    with db.connect(autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where datname = %s and application_name = %s",
            [db.name, APPLICATION_NAME],
        ).fetchone()[0]


def _hold(source: SourcePostgresResource, env: str, release: threading.Event, opened: threading.Semaphore,
          errors: list):
    try:
        with source.connect(env) as conn:
            conn.execute("select 1")
            opened.release()
            release.wait(30)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        errors.append(exc)
        opened.release()


def test_cap_holds_and_waiters_get_a_clear_error(source_db18, monkeypatch, tmp_path):
    monkeypatch.setenv("SLOT_DB_URL", source_db18.url)
    source = SourcePostgresResource(max_connections=2, slot_dir=str(tmp_path / "slots"), slot_timeout_s=0.5)
    release, opened, errors = threading.Event(), threading.Semaphore(0), []
    threads = [threading.Thread(target=_hold, args=(source, "SLOT_DB_URL", release, opened, errors))
               for _ in range(2)]
    for t in threads:
        t.start()
    for _ in threads:
        assert opened.acquire(timeout=30)
    try:
        assert not errors
        assert _our_sessions(source_db18) == 2
        with pytest.raises(SourceBusy, match=r"all 2 connection slot\(s\) for \$SLOT_DB_URL"), \
                source.connect("SLOT_DB_URL"):
            pass
        assert _our_sessions(source_db18) == 2  # the waiter never opened a session
    finally:
        release.set()
        for t in threads:
            t.join(30)
    with source.connect("SLOT_DB_URL") as conn:  # slots are free again
        assert conn.execute("select 1").fetchone() == (1,)


def test_waiter_proceeds_when_a_slot_frees(source_db18, monkeypatch, tmp_path):
    monkeypatch.setenv("SLOT_DB_URL", source_db18.url)
    source = SourcePostgresResource(max_connections=1, slot_dir=str(tmp_path / "slots"), slot_timeout_s=30)
    release, opened, errors = threading.Event(), threading.Semaphore(0), []
    holder = threading.Thread(target=_hold, args=(source, "SLOT_DB_URL", release, opened, errors))
    holder.start()
    assert opened.acquire(timeout=30)
    threading.Timer(0.5, release.set).start()
    with source.connect_adbc("SLOT_DB_URL") as conn:  # waits for the holder, then gets its slot
        assert release.is_set()  # it only got in after the holder was told to let go
        cur = conn.cursor()
        cur.execute("select 1")
        assert cur.fetchone() == (1,)
        cur.close()
    holder.join(30)
    assert not errors


def test_project_max_connections_from_projects_file(source_db18, monkeypatch, tmp_path):
    projects = tmp_path / "projects.yaml"
    projects.write_text(
        "projects:\n  - {name: only-one, organization: o, db_url_env: SLOT_DB_URL, max_connections: 1}\n"
    )
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(projects))
    monkeypatch.setenv("SLOT_DB_URL", source_db18.url)
    source = SourcePostgresResource(slot_dir=str(tmp_path / "slots"), slot_timeout_s=0.3)
    with source.connect("SLOT_DB_URL"), pytest.raises(SourceBusy, match="max_connections=1"), \
            source.connect("SLOT_DB_URL"):
        pass


def test_slots_are_shared_across_processes(tmp_path):
    slot_dir = tmp_path / "slots"
    child = subprocess.Popen(
        [sys.executable, "-c",
         ("import sys, time; from pathlib import Path\n"
          "from aimatrix_pipeline.resources.source_postgres import connection_slot\n"
          f"with connection_slot(Path({str(slot_dir)!r}), 'X_DB_URL', 1, 10):\n"
          "    print('held', flush=True); time.sleep(30)\n")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(SourceBusy), connection_slot(slot_dir, "X_DB_URL", 1, 0.3):
            pass
        with connection_slot(slot_dir, "OTHER_DB_URL", 1, 0.3):  # other sources are not affected
            pass
    finally:
        child.kill()
        child.wait()
    with connection_slot(slot_dir, "X_DB_URL", 1, 10) as slot:  # a dead holder's slot is free again
        assert slot == 0
