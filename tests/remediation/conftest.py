"""Fixtures for `apply`: a projects file whose project has a read-only monitoring DSN (the demo's
least-privileged role) and a separate DSN allowed to write, a warehouse with real findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import load_settings
from aimatrix_pipeline.shared.thresholds import load_thresholds

SNAPSHOTS = ("table_stats", "index_stats", "database_stats", "sequences", "activity", "foreign_keys")


@dataclass
class ApplyEnv:
    source: object
    warehouse: object
    project: object
    monitor_url: str
    write_url: str

    def refresh_findings(self) -> list[dict]:
        """Snapshot the source and re-run the analytics derivations, as the next scheduled run would."""
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
            cur = conn.execute("select * from analytics.optimization_recommendations where project = ?",
                               [self.project.name])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def finding(self, name: str, object_name: str) -> dict:
        return next(f for f in self.findings() if f["name"] == name and f["object_name"] == object_name)

    def attempts(self) -> list[dict]:
        with self.warehouse.reader() as conn:
            cur = conn.execute("select * from ops.applied_recommendations order by started_at")
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]


@pytest.fixture
def apply_env(source_db18, warehouse, tmp_path, monkeypatch) -> ApplyEnv:
    demo_db.create_monitoring_role(source_db18.url, "monitor-pw")
    monitor_url = source_db18.server.url(source_db18.name, user="aimatrix_monitor", password="monitor-pw")
    projects = tmp_path / "projects.yaml"
    projects.write_text(
        "organizations:\n  - slug: o1\n    plan: pro\n"
        "projects:\n  - name: p1\n    organization: o1\n    db_url_env: P1_DB_URL\n"
        "    apply_db_url_env: P1_APPLY_DB_URL\n"
    )
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(projects))
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    monkeypatch.setenv("P1_DB_URL", monitor_url)
    monkeypatch.setenv("P1_APPLY_DB_URL", source_db18.url)
    monkeypatch.setenv("AIMATRIX_APPLIED_BY", "dba@example.test")
    project = load_settings().project("p1")
    env = ApplyEnv(source_db18, warehouse, project, monitor_url, source_db18.url)
    env.refresh_findings()
    return env
