"""The dashboard's data sets, page and exports, from a warehouse filled by the real pipeline."""

from __future__ import annotations

import csv
import json
import re

from aimatrix_pipeline import cli
from aimatrix_pipeline.dashboard.build import build
from aimatrix_pipeline.dashboard.data import collect
from tests.dashboard.conftest import COST_ROWS


def _records(data, name):
    return data.datasets[name].records()


def test_datasets_aggregate_in_sql(filled_warehouse):
    with filled_warehouse.reader() as conn:
        data = collect(conn)
    cost = _records(data, "cost_daily")
    fleet_day2 = {r["line_item"]: r["cost_usd"] for r in cost if r["project"] == "*" and r["date"] == "2026-11-02"}
    assert fleet_day2 == {"compute_hours": 0.25, "egress_gb": 1.25, "plan_fee": 0.83}  # org rows only in '*'
    p1_day2 = {r["line_item"] for r in cost if r["project"] == "p1" and r["date"] == "2026-11-02"}
    assert p1_day2 == {"compute_hours", "egress_gb"}
    month = {r["line_item"]: r["projected_cost_usd"] for r in _records(data, "cost_month") if r["project"] == "*"}
    assert month == {"compute_hours": 11.25, "egress_gb": 18.75}
    infra = _records(data, "infra_metrics")
    assert len(infra) == 2 and infra[0]["cpu_percent"] is None  # first scrape: no interval yet
    assert 0 <= infra[1]["cpu_percent"] <= 100 and 0 < infra[1]["memory_percent"] < 100
    assert 0 < infra[1]["disk_percent"] < 100 and infra[1]["net_rx_bytes_per_s"] >= 0
    health = _records(data, "database_health")
    assert len(health) == 2 and all(0 < r["heap_cache_hit_ratio"] <= 1 for r in health)
    assert [r["project"] for r in _records(data, "projects")] == ["p1", "p2"]
    slow = _records(data, "top_slow_queries")
    assert slow and {r["project"] for r in slow} == {"*", "p1"}
    assert [r["rank"] for r in slow if r["project"] == "*"] == sorted(r["rank"] for r in slow if r["project"] == "*")
    recs = _records(data, "top_recommendations")
    assert recs and all(r["project"] in ("*", "p1") for r in recs)


def test_page_is_self_contained_and_carries_the_data(filled_warehouse, tmp_path):
    result = build(filled_warehouse, tmp_path / "dash")
    html = result.html.read_text()
    assert "__DASHBOARD_DATA__" not in html
    # nothing loaded from anywhere at view time
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:)?//", html)
    assert "default-src 'none'" in html
    embedded = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', html, re.DOTALL).group(1)
    payload = json.loads(embedded)
    assert payload == json.loads(result.json.read_text())
    assert set(payload["datasets"]) >= {"cost_daily", "infra_metrics", "open_alerts", "top_recommendations"}


def test_cli_build_and_export(filled_warehouse, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AIMATRIX_DASHBOARD_DIR", str(tmp_path / "d"))
    assert cli.main(["dashboard", "build"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "d" / "index.html")

    assert cli.main(["dashboard", "export", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["datasets"]["cost_month"]["columns"][:3] == ["project", "month", "line_item"]

    assert cli.main(["dashboard", "export", "--format", "csv", "--output", str(tmp_path / "csv")]) == 0
    with open(tmp_path / "csv" / "cost_daily.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"project", "date", "line_item", "cost_usd"} <= set(rows[0])
    fleet = sum(float(r["cost_usd"]) for r in rows if r["project"] == "*")
    assert round(fleet, 4) == round(sum(c for *_, c in COST_ROWS), 4)
    assert cli.main(["dashboard", "export", "--format", "csv", "--dataset", "projects"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "project,last_seen"

    # usage errors: exit 2 with a message
    assert cli.main(["dashboard", "export", "--format", "csv"]) == 2
    assert cli.main(["dashboard", "export", "--dataset", "nope"]) == 2
    assert "unknown data set" in capsys.readouterr().err


def test_cli_without_warehouse_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(tmp_path / "missing.duckdb"))
    assert cli.main(["dashboard", "build"]) == 2
    assert "does not exist yet" in capsys.readouterr().err
