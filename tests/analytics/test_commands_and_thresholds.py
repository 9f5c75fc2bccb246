"""The report commands over a real warehouse file, and threshold overrides (YAML, env, errors)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from aimatrix_pipeline import cli
from aimatrix_pipeline.settings import ConfigError
from aimatrix_pipeline.shared.thresholds import Thresholds, load_thresholds, shipped_values


def _seed(warehouse):
    now = datetime.now(timezone.utc)
    with warehouse.transaction() as conn:
        conn.execute(
            "insert into analytics.slow_queries_summary (project, source, fingerprint, query_preview, hour_bucket, "
            "calls, total_time_ms, mean_time_ms, max_time_ms, rows, share_of_total_time) values "
            "('p1', 'app_log', 'f1', 'SELECT $1', ?, 4, 4000, 1000, 1500, 4, 1.0), "
            "('p1', 'app_log', 'f2', 'SELECT 2', ?, 1, 10, 10, 10, 1, 0.0)", [now, now])
        conn.execute(
            "insert into analytics.optimization_recommendations (project, id, name, level, title, detail, "
            "remediation_sql, impact, effort, object_key, first_seen, last_seen) values "
            "('p1', 'a', 'unused_index', 'warning', 't', 'd', 'DROP INDEX CONCURRENTLY \"x\";', 4, 2, 'k1', ?, ?), "
            "('p1', 'b', 'slow_query', 'critical', 't2', 'd2', '-- x', 9, 1, 'k2', ?, ?)", [now] * 4)


def test_report_commands(warehouse, monkeypatch, capsys):
    _seed(warehouse)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(warehouse.file))
    assert cli.main(["report", "slow-queries", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["fingerprint"] for r in rows] == ["f1", "f2"] and rows[0]["mean_time_ms"] == 1000
    assert cli.main(["report", "recommendations", "--format", "json", "--sql"]) == 0
    recs = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in recs] == ["slow_query", "unused_index"] and "remediation_sql" in recs[0]
    assert cli.main(["report", "recommendations", "--fail-on", "critical"]) == 1
    assert cli.main(["report", "recommendations", "--project", "p1", "--limit", "1", "--fail-on", "warning"]) == 1
    assert cli.main(["report", "recommendations", "--project", "other", "--fail-on", "info"]) == 0
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(warehouse.file.with_name("missing.duckdb")))
    assert cli.main(["report", "slow-queries"]) == 2


def test_thresholds_shipped_file_yaml_env_and_errors(tmp_path):
    shipped = load_thresholds(env={})
    assert shipped == Thresholds(**shipped_values())  # the shipped thresholds.yaml, nothing else
    path = tmp_path / "t.yaml"
    path.write_text("slow_query_ms: 250\nseq_scan_min_rows: 10\n")
    t = load_thresholds(env={"AIMATRIX_ANALYTICS_THRESHOLDS": str(path), "AIMATRIX_ANALYTICS_SLOW_QUERY_MS": "300"})
    assert (t.slow_query_ms, t.seq_scan_min_rows) == (300.0, 10)
    assert t.summary_min_calls == shipped.summary_min_calls  # names the file does not list keep their value
    path.write_text("slow_querry_ms: 1\n")
    with pytest.raises(ConfigError, match="unknown threshold 'slow_querry_ms'"):
        load_thresholds(env={"AIMATRIX_ANALYTICS_THRESHOLDS": str(path)})
    with pytest.raises(ConfigError, match="AIMATRIX_ANALYTICS_CACHE_HIT_RATIO_MIN"):
        load_thresholds(env={"AIMATRIX_ANALYTICS_CACHE_HIT_RATIO_MIN": "high"})
