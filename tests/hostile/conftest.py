"""Fixtures for hostile-input tests: a monitored database whose object names are attacks, read
through the real extract and analytics into a real warehouse, with a projects file for `apply`."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.demo.local_postgres import embedded_bin_dir
from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import load_settings
from aimatrix_pipeline.shared.thresholds import load_thresholds
from tests.cost.conftest import fake_api  # noqa: F401 - the local Management API server, as in tests/cost

SNAPSHOTS = ("table_stats", "index_stats", "database_stats", "sequences", "activity", "foreign_keys")
SCHEMA = "hostile"
VICTIM = "victim_idx"  # what the payloads try to drop
PWNED = "pwned"        # what the payloads try to create

# Name payloads, each kept under PostgreSQL's 63-byte limit together with a one-letter prefix.
PAYLOADS = {
    "newline": f"\nDROP INDEX CONCURRENTLY IF EXISTS {SCHEMA}.{VICTIM};\n--",
    "carriage_return": f"\rCREATE TABLE {SCHEMA}.{PWNED}();\r--",
    "quote": f'"; DROP INDEX CONCURRENTLY {SCHEMA}.{VICTIM}; --',
    "semicolon": f";DROP INDEX CONCURRENTLY {SCHEMA}.{VICTIM};",
    "escape": "\x1b[2J\x1b]0;owned\x07\x1b[31mred",
    "c1_csi": "\x9b31m\x9b2Jc1",
    "bidi": "\u202egnp.exe\u202c\u2066iso\u2069\u200b",
    "non_ascii": "tâblé_ünïcødé_名前",
    "backslash": "back\\slash\\000A\\",
}
# the names that carry a statement (the escape-only ones can not, they are about the terminal)
INJECTING = ("newline", "carriage_return", "quote", "semicolon")


def nopk_table(key: str) -> str:
    return "n" + PAYLOADS[key]


def dup_index(key: str) -> str:
    return "z" + PAYLOADS[key]   # sorts after "a_plain", so it is the duplicate reported


def invalid_index(key: str) -> str:
    return "i" + PAYLOADS[key]


FK_TABLE = "f" + PAYLOADS["newline"]
FK_COLUMN = 'p"id\n'
VACUUM_TABLE = "v" + PAYLOADS["newline"]


def seed(url: str) -> None:
    """The hostile schema: a victim index, and every payload as a table without primary key and
    as a duplicate index; the injecting ones also as an invalid index; a foreign key and an
    overdue vacuum on tables named by the newline payload."""
    def q(*parts: str) -> sql.Composable:
        return sql.Identifier(*parts)

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("create schema {}").format(q(SCHEMA)))
        conn.execute(sql.SQL("create table {} (id int primary key, v int)").format(q(SCHEMA, "victim")))
        conn.execute(sql.SQL("insert into {} select g, g from generate_series(1, 100) g").format(q(SCHEMA, "victim")))
        conn.execute(sql.SQL("create index {} on {} (v)").format(q(VICTIM), q(SCHEMA, "victim")))
        conn.execute(sql.SQL("create table {} (id int primary key, a int)").format(q(SCHEMA, "dup_host")))
        conn.execute(sql.SQL("create index a_plain on {} (a)").format(q(SCHEMA, "dup_host")))
        conn.execute(sql.SQL("create table {} (id int primary key, v int)").format(q(SCHEMA, "inv_host")))
        conn.execute(sql.SQL("insert into {} select g, g % 3 from generate_series(1, 30) g").format(q(SCHEMA, "inv_host")))
        for key in PAYLOADS:
            conn.execute(sql.SQL("create table {} (x int)").format(q(SCHEMA, nopk_table(key))))
            conn.execute(sql.SQL("create index {} on {} (a)").format(q(dup_index(key)), q(SCHEMA, "dup_host")))
        for key in INJECTING:
            with pytest.raises(psycopg.errors.UniqueViolation):  # leaves an INVALID index behind
                conn.execute(sql.SQL("create unique index concurrently {} on {} (v)").format(
                    q(invalid_index(key)), q(SCHEMA, "inv_host")))
        conn.execute(sql.SQL("create table {} (id int primary key, {} int references {} (id))").format(
            q(SCHEMA, FK_TABLE), q(FK_COLUMN), q(SCHEMA, "victim")))
        conn.execute(sql.SQL("create table {} (id int primary key, d text) with (autovacuum_enabled = false)").format(
            q(SCHEMA, VACUUM_TABLE)))
        conn.execute(sql.SQL("insert into {} select g, 'd' from generate_series(1, 4000) g").format(q(SCHEMA, VACUUM_TABLE)))
        conn.execute(sql.SQL("vacuum analyze {}").format(q(SCHEMA, VACUUM_TABLE)))
        conn.execute(sql.SQL("delete from {} where id <= 3000").format(q(SCHEMA, VACUUM_TABLE)))
    # statistics reach pg_stat_user_tables when the deleting session ends (it just did)


@dataclass
class HostileEnv:
    source: object
    warehouse: object
    project: object
    write_url: str

    def refresh_findings(self) -> list[dict]:
        """Snapshot the source and derive the analytics, as the scheduled runs do."""
        at = datetime.now(UTC)
        for name in SNAPSHOTS:
            snapshots.take_snapshot(name, SourcePostgresResource(), self.warehouse, self.project, at)
        params = derive.base_params(self.project.name, load_thresholds(env={}), as_of=at,
                                    compute_size=self.project.compute_size)
        with self.warehouse.transaction() as conn:
            derive.derive_all(conn, params)
        return self.findings()

    def findings(self) -> list[dict]:
        with self.warehouse.reader() as conn:
            cur = conn.execute("select * from analytics.optimization_recommendations where project = ? "
                               "and object_schema = ?", [self.project.name, SCHEMA])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def finding(self, name: str, object_name: str) -> dict:
        found = [f for f in self.findings() if f["name"] == name and f["object_name"] == object_name]
        assert len(found) == 1, f"no single {name} finding for {object_name!r}: {found}"
        return found[0]

    def attempts(self) -> list[dict]:
        with self.warehouse.reader() as conn:
            cur = conn.execute("select * from ops.applied_recommendations order by started_at")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def relations(self) -> set[tuple[str, str, bool]]:
        """(name, relkind, valid) of every relation in the hostile schema."""
        rows = self.source.execute(
            "select c.relname, c.relkind::text, coalesce(i.indisvalid, true) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace left join pg_index i on i.indexrelid = c.oid "
            "where n.nspname = %s", (SCHEMA,))
        return {tuple(r) for r in rows}

    def psql(self, script: str) -> subprocess.CompletedProcess:
        """Paste `script` into psql, as an operator would (each statement sent on its own)."""
        bin_dir = embedded_bin_dir()
        env = dict(os.environ, LD_LIBRARY_PATH=f"{bin_dir.parent / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}",
                   PGCONNECT_TIMEOUT="10")
        return subprocess.run([str(bin_dir / "psql"), "-X", "-q", "-d", self.write_url], input=script,
                              capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def hostile_env(source_db, warehouse, tmp_path, monkeypatch) -> HostileEnv:
    """On PG 15 and PG 18: the hostile schema, extracted and analysed, ready for `apply`."""
    seed(source_db.url)
    demo_db.create_monitoring_role(source_db.url, "monitor-pw")
    monitor_url = source_db.server.url(source_db.name, user="aimatrix_monitor", password="monitor-pw")
    projects = tmp_path / "projects.yaml"
    projects.write_text(
        "organizations:\n  - slug: o1\n    plan: pro\n"
        "projects:\n  - name: p1\n    organization: o1\n    db_url_env: P1_DB_URL\n"
        "    apply_db_url_env: P1_APPLY_DB_URL\n"
    )
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(projects))
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    monkeypatch.setenv("P1_DB_URL", monitor_url)
    monkeypatch.setenv("P1_APPLY_DB_URL", source_db.url)
    monkeypatch.setenv("AIMATRIX_APPLIED_BY", "dba@example.test")
    env = HostileEnv(source_db, warehouse, load_settings().project("p1"), source_db.url)
    env.refresh_findings()
    return env
