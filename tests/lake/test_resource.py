"""The DuckLake warehouse resource on a real catalog and real data locations: extensions come from
the installed packages, transactions are all-or-nothing, readers see committed snapshots only and
never hold a writer back, and a commit that loses a conflict is rolled back whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aimatrix_pipeline.resources.ducklake_warehouse import CommitConflict, extension_file

ROOT = Path(__file__).resolve().parents[2]


def test_extensions_come_from_the_installed_packages(lake, tmp_path, monkeypatch):
    """Nothing is downloaded or installed into ~/.duckdb: every extension DuckLake needs is loaded
    from the package built for this DuckDB."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    site = Path(duckdb.__file__).resolve().parents[1]
    for name in ("ducklake", "postgres_scanner", "httpfs"):
        path = extension_file(name)
        assert path.is_relative_to(site) and f"v{duckdb.__version__}" in path.parts
    with pytest.raises(FileNotFoundError, match="does not exist yet"), lake.resource().reader():
        pass
    with lake.resource().writer():
        pass  # creates the lake and applies the schema
    with lake.resource().reader(allow_files=True) as conn:  # duckdb_extensions() lists a directory
        loaded = dict(conn.execute(
            "select extension_name, install_path from duckdb_extensions() where loaded").fetchall())
    assert {"ducklake", "postgres_scanner"} <= set(loaded)
    assert ("httpfs" in loaded) == (lake.kind == "s3")
    assert not (tmp_path / "home" / ".duckdb").exists()


def test_round_trip_lands_in_the_data_location(lake):
    wh = lake.resource()
    with wh.transaction() as conn:
        conn.execute("insert into raw.error_events (project, id, created_at) "
                     "select 'p' || (i % 3), uuid(), now() from range(3000) t(i)")
    with wh.reader() as conn:
        counts = conn.execute("select project, count(*) from raw.error_events group by all order by 1").fetchall()
    assert counts == [("p0", 1000), ("p1", 1000), ("p2", 1000)]
    files = lake.data_files()
    assert any("error_events" in f for f in files), files
    with pytest.raises(RuntimeError, match="boom"), wh.transaction() as conn:
        conn.execute("delete from raw.error_events where project = 'p0'")
        raise RuntimeError("boom")
    with wh.reader() as conn:
        assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 3000
        with pytest.raises(duckdb.Error):
            conn.execute("insert into raw.error_events (project, id, created_at) values ('x', uuid(), now())")


READER = """
import os, sys
from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
wh = warehouse_for(os.environ["AIMATRIX_WAREHOUSE"])
with wh.transaction() as conn:
    conn.execute("delete from raw.error_events where project = 'w'")
    conn.execute("insert into raw.error_events (project, id, created_at) select 'w', uuid(), now() from range(5)")
print("committed")
"""


def test_readers_see_committed_snapshots_and_never_block_a_writer(lake):
    """A reader holding a transaction open keeps its snapshot while a writer in another process
    commits (the writer finishes while the reader is still open); a new reader sees the commit."""
    wh = lake.resource()
    with wh.transaction() as conn:
        conn.execute("insert into raw.error_events (project, id, created_at) select 'w', uuid(), now() from range(2)")
    env = {**os.environ, **lake.env, "PYTHONPATH": str(ROOT)}
    with wh.reader() as reader:
        reader.execute("begin transaction")
        assert reader.execute("select count(*) from raw.error_events").fetchone()[0] == 2
        done = subprocess.run([sys.executable, "-c", READER], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0 and "committed" in done.stdout, done.stderr[-2000:]
        assert reader.execute("select count(*) from raw.error_events").fetchone()[0] == 2
        reader.execute("commit")
        assert reader.execute("select count(*) from raw.error_events").fetchone()[0] == 5
    # an open, uncommitted write is invisible to readers
    with wh.transaction() as writer:
        writer.execute("insert into raw.error_events (project, id, created_at) values ('w', uuid(), now())")
        with wh.reader() as reader:
            assert reader.execute("select count(*) from raw.error_events").fetchone()[0] == 5
    with wh.reader() as reader:
        assert reader.execute("select count(*) from raw.error_events").fetchone()[0] == 6


def test_commit_that_loses_a_conflict_is_rolled_back_whole_and_can_run_again(lake):
    """A writer outside the resource (no commit lock) commits into the same table while one of ours
    is open: ours is rejected whole with CommitConflict, the other's rows stand, and running ours
    again (what a retried step does) lands it exactly once."""
    wh = lake.resource()
    with wh.transaction() as conn:
        conn.execute("insert into raw.error_events (project, id, created_at) select p, uuid(), now() from (values ('a'), ('b')) v(p)")

    def replace(conn, project, n):
        conn.execute("delete from raw.error_events where project = ?", [project])
        conn.execute("insert into raw.error_events (project, id, created_at) select ?, uuid(), now() from range(?)",
                     [project, n])

    foreign = wh._connect(read_only=False)
    try:
        with pytest.raises(CommitConflict, match="nothing applied"), wh.transaction() as conn:
            replace(conn, "a", 7)
            foreign.execute("begin transaction")
            replace(foreign, "b", 4)
            foreign.execute("commit")
    finally:
        foreign.close()
    with wh.reader() as conn:
        assert dict(conn.execute("select project, count(*) from raw.error_events group by all").fetchall()) \
            == {"a": 1, "b": 4}
    with wh.transaction() as conn:
        replace(conn, "a", 7)
    with wh.reader() as conn:
        assert dict(conn.execute("select project, count(*) from raw.error_events group by all").fetchall()) \
            == {"a": 7, "b": 4}


def test_host_local_files_go_beside_the_lake_not_into_the_working_directory(tmp_path, monkeypatch):
    """Alert state and source slots live next to the warehouse; in DuckLake mode AIMATRIX_WAREHOUSE
    is a catalog string, so "next to it" is the local data directory (or local path for S3)."""
    from aimatrix_pipeline.alerts.state import default_state_path
    from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource

    monkeypatch.delenv("AIMATRIX_ALERT_STATE", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", "ducklake:postgres:host=127.0.0.1 dbname=lake user=aimatrix")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE_DATA_PATH", str(tmp_path / "shared" / "lake"))
    assert default_state_path() == tmp_path / "shared" / "alerts_outbox.sqlite"
    assert SourcePostgresResource()._slot_dir() == tmp_path / "shared" / "source-slots"
    monkeypatch.setenv("AIMATRIX_WAREHOUSE_DATA_PATH", "s3://bucket/lake/")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE_LOCAL_PATH", str(tmp_path / "local" / "lake"))
    assert default_state_path() == tmp_path / "local" / "alerts_outbox.sqlite"
    assert SourcePostgresResource()._slot_dir() == tmp_path / "local" / "source-slots"


IDLE_WRITER = """
import os
from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
with warehouse_for(os.environ["AIMATRIX_WAREHOUSE"]).writer():
    pass
print("opened")
"""


@pytest.mark.parametrize("lake", ["dir"], indirect=True)
def test_a_writer_of_the_same_version_commits_no_ddl(lake):
    """Every Dagster run is a new process: its first writer must not commit the DDL again (each
    commit is a catalog snapshot, and concurrent `create or replace` conflicts)."""
    wh = lake.resource()
    with wh.writer():
        pass

    def snapshots() -> int:
        with wh.reader() as conn:
            return conn.execute("select count(*) from ducklake_snapshots('warehouse')").fetchone()[0]

    before = snapshots()
    env = {**os.environ, **lake.env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", IDLE_WRITER], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0 and "opened" in done.stdout, done.stderr[-2000:]
    assert snapshots() == before
    with wh.reader() as conn:
        assert conn.execute("select count(*) from raw.schema_version").fetchone() == (1,)


OTHER_HOST = """
import os
from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
with warehouse_for(os.environ["AIMATRIX_WAREHOUSE"]).transaction() as conn:
    conn.execute("insert into raw.error_events (project, id, created_at) select 'other', uuid(), now() from range(3)")
"""


@pytest.mark.parametrize("lake", ["dir"], indirect=True)
def test_one_attached_session_per_process_sees_every_hosts_commits(lake):
    """The writers of a run process share one attached session (extensions loaded and the catalog
    attached once), and each transaction still starts on the latest snapshot: rows another process
    committed after the session was opened are seen, and replaced, by the next transaction."""
    wh = lake.resource()
    with wh.transaction() as conn:
        conn.execute("insert into raw.error_events (project, id, created_at) values ('mine', uuid(), now())")
    session = wh._session()
    env = {**os.environ, **lake.env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", OTHER_HOST], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    with wh.transaction() as conn:
        assert wh._session() is session
        assert conn.execute("select count(*) from raw.error_events where project = 'other'").fetchone() == (3,)
        conn.execute("delete from raw.error_events where project = 'other'")
    with wh.reader() as conn:
        assert dict(conn.execute("select project, count(*) from raw.error_events group by all").fetchall()) \
            == {"mine": 1}
