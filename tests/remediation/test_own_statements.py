"""The pipeline's own statements are neither slow queries nor the cause of seq-scan findings.

An index build run by `aimatrix-pipeline apply` (CREATE INDEX CONCURRENTLY: two heap scans of the
table) and the monitoring role's own snapshot queries land in pg_stat_statements and
pg_stat_user_tables like anyone's. By default analytics.slow_queries_summary leaves both out
(`AIMATRIX_SLOW_QUERIES_INCLUDE_OWN` keeps them), and the seq-scan finding subtracts the scans
`apply` measured for its own build.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.cli import main
from aimatrix_pipeline.extract import snapshots
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.settings import load_settings
from aimatrix_pipeline.shared.thresholds import load_thresholds

from .conftest import SNAPSHOTS

# so strict that the build's own two heap scans of app.order_items would be a finding on their own
STRICT = {"AIMATRIX_ANALYTICS_SEQ_SCAN_MIN_SCANS": "1", "AIMATRIX_ANALYTICS_SEQ_SCAN_MIN_ROWS": "0",
          "AIMATRIX_ANALYTICS_SEQ_SCAN_MIN_RATIO": "0.5"}


def _snapshot_and_derive(env, include_own: bool) -> None:
    at = datetime.now(UTC)
    for name in (*SNAPSHOTS, "pg_stat_statements"):
        snapshots.take_snapshot(name, SourcePostgresResource(), env.warehouse, env.project, at)
    _derive(env, include_own)


def _derive(env, include_own: bool) -> None:
    with env.warehouse.reader() as conn:
        at = conn.execute("select max(snapshot_at) from raw.table_stats").fetchone()[0]
    params = derive.base_params(env.project.name, load_thresholds(env=STRICT), as_of=at,
                                compute_size=env.project.compute_size, include_own_statements=include_own)
    with env.warehouse.transaction() as conn:
        derive.derive_all(conn, params)


def _summary_fingerprints(env) -> set[str]:
    with env.warehouse.reader() as conn:
        return {r[0] for r in conn.execute("select fingerprint from analytics.slow_queries_summary "
                                           "where source = 'pg_stat_statements'").fetchall()}


def _seq_findings(env) -> list:
    return [f for f in env.findings() if f["name"] == "seq_scan_heavy_table" and f["object_name"] == "order_items"]


def test_apply_index_build_is_no_slow_query_and_no_seq_scan_finding(apply_env, capsys):
    env = apply_env
    _snapshot_and_derive(env, include_own=False)
    assert _seq_findings(env) == []
    f = env.finding("unindexed_foreign_key", "order_items")
    assert main(["apply", f["id"], "--confirm"]) == 0
    assert "result: succeeded" in capsys.readouterr().out
    (attempt,) = env.attempts()
    verification = json.loads(attempt["verification"])
    own_scans = {(o["schema"], o["table"]): o["scans"] for o in verification["own_seq_scans"]}
    assert own_scans[("app", "order_items")] >= 1  # the build's heap scan(s), measured
    build_fp = verification["own_fingerprints"]
    _snapshot_and_derive(env, include_own=False)

    with env.warehouse.reader() as conn:
        monitor = conn.execute("select max(monitor_userid) from raw.pg_stat_statements_info").fetchone()[0]
        deltas = conn.execute("select distinct fingerprint, userid from analytics.pg_stat_statements_deltas "
                              "where query_preview ilike 'create index concurrently%' or userid = ?",
                              [monitor]).fetchall()
    assert monitor is not None  # aimatrix_monitor is a dedicated role: its statements are ours
    build = {fp for fp, user in deltas if fp in build_fp}
    monitors = {fp for fp, user in deltas if user == monitor}
    assert build and monitors, deltas  # both are in pg_stat_statements ...
    summary = _summary_fingerprints(env)
    assert not (build & summary) and not (monitors & summary)  # ... and not among the slow queries
    assert _seq_findings(env) == []  # the build's own scans were subtracted

    # the setting shows them (and proves the data holds them)
    _derive(env, include_own=True)
    summary = _summary_fingerprints(env)
    assert build <= summary and monitors <= summary


def test_the_setting_is_a_typed_flag(monkeypatch):
    import pytest

    from aimatrix_pipeline.settings import ConfigError

    assert load_settings({"SUPABASE_DB_URL": "postgresql://u@h/d"}).slow_queries_include_own is False
    on = {"SUPABASE_DB_URL": "postgresql://u@h/d", "AIMATRIX_SLOW_QUERIES_INCLUDE_OWN": "yes"}
    assert load_settings(on).slow_queries_include_own is True
    with pytest.raises(ConfigError, match="AIMATRIX_SLOW_QUERIES_INCLUDE_OWN must be true or false"):
        load_settings({**on, "AIMATRIX_SLOW_QUERIES_INCLUDE_OWN": "sometimes"})
