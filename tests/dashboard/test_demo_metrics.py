"""The demo points its project at a local metrics endpoint whose samples feed the infra charts."""

from __future__ import annotations

import io
import os

from aimatrix_pipeline.appsignals.metrics import parse_exposition, scrape_metrics
from aimatrix_pipeline.demo import runner
from aimatrix_pipeline.demo.local_metrics import host_lines
from aimatrix_pipeline.settings import load_settings


def test_host_series_parse_as_prometheus_text():
    samples, bad = parse_exposition("\n".join(host_lines()) + "\n")
    assert bad == []
    names = {s["metric"] for s in samples}
    assert {"node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_memory_MemAvailable_bytes",
            "node_filesystem_size_bytes", "node_filesystem_avail_bytes",
            "node_network_receive_bytes_total", "node_network_transmit_bytes_total"} <= names


def test_demo_project_scrapes_the_local_endpoint(source_db18, warehouse, tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    demo = runner.DemoEnvironment(pg=None, owner_dsn=source_db18.url, monitor_dsn=source_db18.url,
                                  dagster_pg_url="", dagster_home=home, warehouse=tmp_path / "w.duckdb")
    for name in ("AIMATRIX_PROJECTS_FILE", runner.METRICS_KEY_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_DB_URL", source_db18.url)
    # start_metrics_endpoint puts both variables into os.environ (for the demo's children); they are
    # removed in `finally` (monkeypatch.delenv of an unset variable records nothing to undo)
    endpoint = runner.start_metrics_endpoint(demo, io.StringIO())
    try:
        assert os.environ["AIMATRIX_PROJECTS_FILE"] == demo.env["AIMATRIX_PROJECTS_FILE"]
        settings = load_settings()
        assert settings.project_names == [runner.DEMO_PROJECT]
        project = settings.project(runner.DEMO_PROJECT)
        assert project.extra["metrics_url"] == endpoint.url and project.db_url_env == "SUPABASE_DB_URL"
        result = scrape_metrics(warehouse, project)
    finally:
        endpoint.stop()
        for name in ("AIMATRIX_PROJECTS_FILE", runner.METRICS_KEY_ENV):
            os.environ.pop(name, None)
    assert result.samples > 10 and not result.skipped
    with warehouse.reader() as conn:
        metrics = {m for (m,) in conn.execute("select distinct metric from raw.project_metrics").fetchall()}
    assert {"pg_database_size_bytes", "node_cpu_seconds_total", "node_memory_MemAvailable_bytes"} <= metrics
