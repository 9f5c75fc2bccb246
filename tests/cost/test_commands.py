"""`aimatrix-pipeline report cost --month`: the invoice on the terminal, budget exit code."""

from __future__ import annotations

import csv
import io

from aimatrix_pipeline import cli
from tests.cost.helpers import UsageSet, make_settings, month_days, price

APRIL = month_days(2026, 4)


def _warehouse_with_april(warehouse, budget=None):
    s = make_settings([("acme", "pro", budget)], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", APRIL, "micro").every_day("app", APRIL, "egress_gb", 10)  # 300 GB
    price(warehouse, u, APRIL[0], APRIL[-1])


def test_report_cost_prints_the_invoice(warehouse, monkeypatch, capsys):
    _warehouse_with_april(warehouse)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    assert cli.main(["report", "cost", "--month", "2026-04", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_item = {r["line_item"]: r for r in rows}
    assert by_item["egress"]["cost_usd"] == "4.5"            # 50 GB over x $0.09
    assert by_item["TOTAL"]["cost_usd"] == "29.5"            # + $25 fee; compute covered by credits
    assert rows[-1]["line_item"] == "TOTAL"


def test_report_cost_exits_1_over_budget_and_2_on_bad_month(warehouse, monkeypatch, capsys):
    _warehouse_with_april(warehouse, budget=20.0)
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    assert cli.main(["report", "cost", "--month", "2026-04"]) == 1
    assert "over budget: organization acme projects $29.50 against $20.00" in capsys.readouterr().err
    assert cli.main(["report", "cost", "--month", "April"]) == 2
    assert cli.main(["report", "cost", "--month", "2026-01"]) == 1  # nothing reported for that month
