"""Ad-hoc readers and scheduled writers on one DuckDB file: nobody fails, nobody sees half a write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import duckdb
import pytest

from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, WarehouseResource


def run_cli(warehouse: WarehouseResource, *args: str) -> subprocess.Popen:
    env = dict(os.environ, AIMATRIX_WAREHOUSE=str(warehouse.file))
    return subprocess.Popen(
        [sys.executable, "-m", "aimatrix_pipeline.cli", *args],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture
def seeded(warehouse):
    with warehouse.transaction() as conn:
        conn.execute("create table if not exists main.items (n integer)")
        conn.execute("insert into main.items select range from range(10)")
    return warehouse


def test_reader_waits_for_writer_and_sees_all_of_it(seeded):
    inserted, release = threading.Event(), threading.Event()

    def writer():
        with seeded.transaction() as conn:
            conn.execute("insert into main.items select range from range(1000)")
            inserted.set()
            release.wait(60)

    t = threading.Thread(target=writer)
    t.start()
    assert inserted.wait(30)
    reader = run_cli(seeded, "sql", "select count(*) as n from main.items", "--format", "json")
    try:
        reader.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        pass
    assert reader.poll() is None, "the reader must wait while a write is in flight"
    release.set()
    out, err = reader.communicate(timeout=60)
    t.join()
    assert reader.returncode == 0, err
    assert json.loads(out) == [{"n": 1010}]  # all of the write, never part of it


def test_writer_waits_for_reader_instead_of_failing(seeded):
    reading, release, written = threading.Event(), threading.Event(), threading.Event()
    errors = []

    def reader():
        with seeded.reader() as conn:
            conn.execute("select count(*) from main.items").fetchall()
            reading.set()
            release.wait(60)

    def writer():
        try:
            with seeded.transaction() as conn:
                conn.execute("insert into main.items values (99)")
            written.set()
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            errors.append(exc)

    r = threading.Thread(target=reader)
    r.start()
    assert reading.wait(30)
    w = threading.Thread(target=writer)
    w.start()
    assert not written.wait(0.5), "the writer must wait for the shared lock"
    release.set()
    r.join()
    w.join(60)
    assert errors == [] and written.is_set()


def test_writer_lock_timeout_is_a_clear_error(seeded):
    impatient = WarehouseResource(path=str(seeded.file), lock_timeout_s=0.2)
    with seeded.reader():
        with pytest.raises(WarehouseLockTimeout, match="another run or a long ad-hoc query"):
            with impatient.transaction():
                pass


def test_long_ad_hoc_query_is_interrupted(seeded):
    proc = run_cli(seeded, "sql", "select count(*) from range(100000000000) a", "--timeout", "0.5")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert "interrupted" in err


def test_sql_command_formats_and_errors(seeded):
    proc = run_cli(seeded, "sql", "select n from main.items order by n limit 2", "--format", "csv")
    out, _ = proc.communicate(timeout=60)
    assert out.splitlines() == ["n", "0", "1"]
    proc = run_cli(seeded, "sql", "select * from main.nope")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "nope" in err


def test_failed_write_leaves_warehouse_unchanged(seeded):
    with pytest.raises(RuntimeError, match="mid-write"):
        with seeded.transaction() as conn:
            conn.execute("delete from main.items")
            raise RuntimeError("the run failed mid-write")
    with seeded.reader() as conn:
        assert conn.execute("select count(*) from main.items").fetchone()[0] == 10


def test_published_snapshot_is_a_committed_copy(seeded):
    path = seeded.publish_snapshot()
    with seeded.transaction() as conn:
        conn.execute("insert into main.items values (100)")
    snap = duckdb.connect(str(path), read_only=True)
    try:
        assert snap.execute("select count(*) from main.items").fetchone()[0] == 10
    finally:
        snap.close()
