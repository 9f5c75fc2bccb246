"""The per-source connection cap holds across hosts: processes that share no filesystem lock (each
its own slot directory, as on separate machines) still never open more than `max_connections`
sessions on one monitored database, because in DuckLake mode the slots are advisory locks in the
catalog's PostgreSQL. The same processes on a DuckDB file warehouse (slot files only) break the
cap, which is what the catalog slots are for.

Sessions are counted in the monitored server's own pg_stat_activity.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aimatrix_pipeline.resources.source_postgres import (
    APPLICATION_NAME,
    SourcePostgresResource,
    SourceUnavailable,
)

ROOT = Path(__file__).resolve().parents[2]
CAP = 2

# One "host": opens one session on the source through the resource, with its own slot directory,
# says "held" (or "busy: <message>") and keeps the session until its stdin closes.
HOLDER = """
import sys
from aimatrix_pipeline.resources.source_postgres import SourceBusy, SourcePostgresResource
source = SourcePostgresResource(max_connections=int(sys.argv[2]), slot_dir=sys.argv[1], slot_timeout_s=float(sys.argv[3]))
try:
    with source.connect("SLOT_DB_URL") as conn:
        conn.execute("select 1")
        print("held", flush=True)
        sys.stdin.readline()
except SourceBusy as exc:
    print("busy: " + str(exc), flush=True)
"""


def _sessions(db) -> int:
    with db.connect(autocommit=True) as conn:
        return conn.execute(
            "select count(*) from pg_stat_activity where datname = %s and application_name = %s",
            [db.name, APPLICATION_NAME],
        ).fetchone()[0]


class Host:
    """A process standing in for one machine: nothing on disk shared with the others."""

    def __init__(self, tmp_path: Path, name: str, env: dict[str, str], timeout_s: float = 30.0):
        slot_dir = tmp_path / name / "source-slots"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(slot_dir), str(CAP), str(timeout_s)],
            env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def outcome(self) -> str:
        line = self.proc.stdout.readline().strip()
        if not line:
            raise AssertionError(self.proc.stderr.read()[-3000:])
        return line

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
        self.proc.wait(30)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


@pytest.fixture
def catalog(pg18):
    name = f"slots_catalog_{os.getpid()}"
    pg18.create_database(name)
    yield f"ducklake:postgres:host=127.0.0.1 port={pg18.port} dbname={name} user=postgres"
    pg18.drop_database(name)


def test_cap_holds_across_hosts_through_the_catalog(source_db18, catalog, tmp_path):
    env = _env(SLOT_DB_URL=source_db18.url, AIMATRIX_WAREHOUSE=catalog,
               AIMATRIX_WAREHOUSE_DATA_PATH=str(tmp_path / "lake"))
    hosts = [Host(tmp_path, f"host{i}", env) for i in range(CAP)]
    late = None
    try:
        assert [h.outcome() for h in hosts] == ["held"] * CAP
        assert _sessions(source_db18) == CAP
        # a third host, its own slot directory: no slot anywhere, so no session either
        late = Host(tmp_path, "host-late", env, timeout_s=0.5)
        busy = late.outcome()
        assert busy.startswith("busy: ") and f"all {CAP} connection slot(s) for $SLOT_DB_URL" in busy
        assert "on every host sharing the catalog" in busy
        assert _sessions(source_db18) == CAP
        late.release()
        # one host lets go: the next one anywhere gets in, and the total stays at the cap
        hosts[0].release()
        late = Host(tmp_path, "host-late", env)
        assert late.outcome() == "held"
        assert _sessions(source_db18) == CAP
    finally:
        for h in [*hosts, *([late] if late else [])]:
            h.proc.kill()
            h.proc.wait(30)


def test_a_dead_host_releases_its_slot(source_db18, catalog, tmp_path):
    env = _env(SLOT_DB_URL=source_db18.url, AIMATRIX_WAREHOUSE=catalog,
               AIMATRIX_WAREHOUSE_DATA_PATH=str(tmp_path / "lake"))
    hosts = [Host(tmp_path, f"host{i}", env) for i in range(CAP)]
    late = None
    try:
        assert [h.outcome() for h in hosts] == ["held"] * CAP
        hosts[0].proc.kill()  # no clean exit: its catalog session ends with it
        hosts[0].proc.wait(30)
        late = Host(tmp_path, "host-late", env)
        assert late.outcome() == "held"
    finally:
        for h in [*hosts, *([late] if late else [])]:
            h.proc.kill()
            h.proc.wait(30)


def test_slot_files_alone_do_not_span_hosts(source_db18, tmp_path):
    """The control: with a DuckDB file warehouse the slots are files, and hosts that do not share
    the directory each see a free slot, so three sessions open where the cap is two."""
    env = _env(SLOT_DB_URL=source_db18.url, AIMATRIX_WAREHOUSE=str(tmp_path / "warehouse.duckdb"))
    hosts = [Host(tmp_path, f"host{i}", env, timeout_s=0.5) for i in range(CAP + 1)]
    try:
        assert [h.outcome() for h in hosts] == ["held"] * (CAP + 1)
        assert _sessions(source_db18) == CAP + 1
    finally:
        for h in hosts:
            h.proc.kill()
            h.proc.wait(30)


def test_unreachable_slot_catalog_is_a_clear_error_without_secrets(monkeypatch, tmp_path):
    from aimatrix_pipeline.demo.local_postgres import free_port

    monkeypatch.setenv("SLOT_DB_URL", "postgresql://monitor:s3cret-pw@127.0.0.1:1/app")
    source = SourcePostgresResource(
        slot_catalog=f"host=127.0.0.1 port={free_port()} dbname=lake user=aimatrix password=catalog-pw-123",
        slot_timeout_s=1,
    )
    with pytest.raises(SourceUnavailable, match=r"connection slots of \$SLOT_DB_URL") as info, \
            source.connect("SLOT_DB_URL"):
        pass
    assert "catalog-pw-123" not in str(info.value) and "s3cret-pw" not in str(info.value)
