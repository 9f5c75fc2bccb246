"""Known-answer invoices: hand-built usage sets priced to the cent.

Every expected amount is derived here by hand from the reference prices
(docs/supabase-billing-facts.md), never by calling the code under test:
Pro $25/month with $10 compute credits; Micro $0.01344/h, Small $0.0206/h, Medium $0.0822/h;
egress 250 GB then $0.09/GB; MAU 100,000 then $0.00325; disk 8 GB/project then $0.000171/GB-hour;
storage 100 GB then $0.0213/GB-month (730 GB-hours); function invocations 2M then $2/M;
realtime messages 5M then $2.50 per started million; peak connections 500 then $10 per started 1,000.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.cost.helpers import UsageSet, cents, make_settings, month_days, price, report, total

APRIL = month_days(2026, 4)  # 30 days, 720 hours
MAY = month_days(2026, 5)  # 31 days, 744 hours


def _line_costs(rep):
    return {k: cents(v["cost_usd"]) for k, v in rep.items() if v["cost_usd"] is not None}


def test_below_quota_costs_the_plan_fee(warehouse):
    s = make_settings([("acme", "pro")], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", APRIL, "micro")
    u.every_day("app", APRIL, "egress_gb", 8)                 # 240 GB < 250
    u.every_day("app", APRIL, "mau", 3000)                    # 90,000 < 100,000
    u.every_day("app", APRIL, "storage_size_bytes", 50e9)     # 50 GB < 100 GB
    u.every_day("app", APRIL, "function_invocations", 60000)  # 1.8M < 2M
    u.every_day("app", APRIL, "realtime_messages", 100000)    # 3M < 5M
    u.every_day("app", APRIL, "realtime_peak_connections", 300)
    u.every_day("app", APRIL, "disk_gb_hours", 8 * 24, "gp3")  # exactly the 8 GB included
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "acme", APRIL[0])
    # compute 720 h x 0.01344 = 9.6768, fully covered by the $10 credit
    assert cents(rep["compute_hours_micro"]["cost_usd"]) == 9.68
    assert cents(rep["compute_credits"]["cost_usd"]) == -9.68
    for item in ("egress", "mau", "storage_gb_hours", "function_invocations", "realtime_messages",
                 "realtime_peak_connections", "disk_gb_hours_gp3"):
        assert cents(rep[item]["cost_usd"]) == 0.0, item
        assert rep[item]["billable"] == pytest.approx(0.0), item
    assert rep["egress"]["usage"] == pytest.approx(240)
    assert rep["egress"]["included"] == 250
    assert rep["realtime_peak_connections"]["usage"] == 300  # a peak, not a sum of days
    assert total(rep) == 25.00


def test_just_over_quota(warehouse):
    s = make_settings([("acme", "pro")], [("app", "acme", "small")])
    u = UsageSet(s).compute("app", APRIL, "small")
    u.every_day("app", APRIL[:29], "egress_gb", 8).add("app", APRIL[29], "egress_gb", 19)  # 251 GB
    u.add("app", APRIL[0], "mau", 100200)                                                  # 200 over
    u.every_day("app", APRIL, "disk_gb_hours", 10 * 24, "gp3")                             # 2 GB over
    u.every_day("app", APRIL, "storage_size_bytes", 110e9)                                 # 10 GB over
    u.every_day("app", APRIL[:25], "function_invocations", 100000)                         # 2.5M
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "acme", APRIL[0])
    expected = {
        "plan_fee": 25.00,
        "compute_hours_small": cents(720 * 0.0206),            # 14.832
        "compute_credits": -10.00,                              # capped at the plan's credit
        "egress": cents(1 * 0.09),                              # 0.09
        "mau": cents(200 * 0.00325),                            # 0.65
        "disk_gb_hours_gp3": cents(2 * 720 * 0.000171),         # 1440 GB-h -> 0.24624
        "storage_gb_hours": cents(10 * 720 / 730 * 0.0213),     # 7200 GB-h -> 0.21008
        "function_invocations": cents(500000 / 1e6 * 2),        # 1.00
    }
    got = _line_costs(rep)
    for item, amount in expected.items():
        assert got[item] == amount, item
    assert total(rep) == cents(25 + 14.832 - 10 + 0.09 + 0.65 + 0.24624 + 7200 / 730 * 0.0213 + 1.0)
    assert total(rep) == 32.03
    assert rep["egress"]["billable"] == pytest.approx(1.0)
    # the egress overage accrues on the day the cycle crosses the quota, not before
    with warehouse.reader() as conn:
        days = conn.execute("select date, cost_usd from cost.cost_breakdown_daily "
                            "where line_item = 'egress' and cost_usd > 0").fetchall()
    assert [d for d, _ in days] == [APRIL[29]]


def test_package_items_round_up(warehouse):
    s = make_settings([("acme", "pro")], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", APRIL, "micro")
    u.add("app", APRIL[0], "realtime_messages", 3_000_000).add("app", APRIL[1], "realtime_messages", 2_000_001)
    for i, peak in enumerate([100, 200, 350, 480, 501, 20]):
        u.add("app", APRIL[i], "realtime_peak_connections", peak)
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "acme", APRIL[0])
    # 1 message over 5M -> one whole package of 1M at $2.50
    assert cents(rep["realtime_messages"]["cost_usd"]) == 2.50
    # peak 501 over 500 -> one package of 1,000 at $10
    assert rep["realtime_peak_connections"]["usage"] == 501
    assert cents(rep["realtime_peak_connections"]["cost_usd"]) == 10.00
    assert total(rep) == cents(25 + 720 * 0.01344 - 720 * 0.01344 + 2.50 + 10.00) == 37.50
    with warehouse.reader() as conn:
        daily = conn.execute("select round(sum(cost_usd), 6) from cost.cost_breakdown_daily "
                             "where organization = 'acme'").fetchone()[0]
    assert cents(daily) == 37.50  # the daily rows (plan fee prorated) add up to the invoice


def test_free_plan_org_is_never_billed_for_overage(warehouse):
    s = make_settings([("hobby", "free")], [("toy", "hobby", "micro")])
    u = UsageSet(s).compute("toy", APRIL, "micro")
    u.every_day("toy", APRIL, "egress_gb", 1)       # 30 GB, cap 5
    u.add("toy", APRIL[0], "mau", 60000)            # cap 50,000
    u.add("toy", APRIL[0], "realtime_messages", 3_000_000)
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "hobby", APRIL[0])
    assert total(rep) == 0.00
    assert rep["egress"]["included"] == 5
    assert rep["egress"]["billable"] == pytest.approx(25)  # over the Free cap, shown, not billed
    assert rep["mau"]["included"] == 50000


def test_three_projects_share_the_organization_quota(warehouse):
    s = make_settings([("acme", "pro")], [("a", "acme", "micro"), ("b", "acme", "small"), ("c", "acme", "medium")])
    u = UsageSet(s)
    for name, size in (("a", "micro"), ("b", "small"), ("c", "medium")):
        u.compute(name, APRIL, size)
        u.every_day(name, APRIL[:20], "egress_gb", 5)             # 100 GB each, 300 together
        u.add(name, APRIL[0], "mau", 40000)                       # 120,000 together
        u.add(name, APRIL[3], "realtime_peak_connections", 200)   # peaks sum to 600
        u.every_day(name, APRIL, "disk_gb_hours", 8 * 24, "gp3")  # 8 GB each: per-project quota
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "acme", APRIL[0])
    compute = 720 * 0.01344 + 720 * 0.0206 + 720 * 0.0822   # 83.6928
    assert cents(rep["egress"]["cost_usd"]) == cents(50 * 0.09) == 4.50
    assert cents(rep["mau"]["cost_usd"]) == cents(20000 * 0.00325) == 65.00
    assert rep["realtime_peak_connections"]["usage"] == 600
    assert cents(rep["realtime_peak_connections"]["cost_usd"]) == 10.00
    assert cents(rep["disk_gb_hours_gp3"]["cost_usd"]) == 0.00
    assert rep["disk_gb_hours_gp3"]["included"] == pytest.approx(3 * 8 * 720)
    assert cents(rep["compute_credits"]["cost_usd"]) == -10.00
    assert total(rep) == cents(25 + compute - 10 + 4.50 + 65 + 10) == 178.19
    with warehouse.reader() as conn:
        alloc = dict(conn.execute(
            "select project, sum(cost_usd) from cost.monthly_project_cost where organization = 'acme' "
            "group by project").fetchall())
        egress = dict(conn.execute(
            "select project, sum(cost_usd) from cost.monthly_project_cost "
            "where organization = 'acme' and line_item = 'egress' group by project").fetchall())
    assert cents(sum(alloc.values())) == 178.19          # the allocation adds up to the invoice
    assert {p: cents(v) for p, v in egress.items()} == {"a": 1.50, "b": 1.50, "c": 1.50}


def test_month_with_a_price_change_uses_each_days_price(warehouse, tmp_path):
    overrides = tmp_path / "prices.yaml"
    overrides.write_text(
        "entries:\n"
        "  - {line_item: egress, plan: '*', effective_from: 2026-05-28, unit: GB, price_usd: 0.12,\n"
        "     included: 250, quota_scope: organization}\n"
        "  - {line_item: plan_fee, plan: pro, effective_from: 2026-05-16, unit: month, price_usd: 30,\n"
        "     kind: plan_fee}\n"
    )
    s = make_settings([("acme", "pro")], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", MAY, "micro").every_day("app", MAY, "egress_gb", 10)  # 310 GB
    u.compute("app", APRIL, "micro").every_day("app", APRIL, "egress_gb", 10)           # 300 GB
    price(warehouse, u, APRIL[0], MAY[-1], overrides=overrides)
    may = report(warehouse, "acme", MAY[0])
    # quota reached at the end of May 25; days 26-27 at $0.09, days 28-31 at $0.12
    assert cents(may["egress"]["cost_usd"]) == cents(20 * 0.09 + 40 * 0.12) == 6.60
    # plan fee prorated: 15 days at $25, 16 days at $30, over 31 days
    assert cents(may["plan_fee"]["cost_usd"]) == cents((15 * 25 + 16 * 30) / 31) == 27.58
    assert total(may) == cents((15 * 25 + 16 * 30) / 31 + 6.60) == 34.18
    # April, before the change, keeps the old prices
    april = report(warehouse, "acme", APRIL[0])
    assert cents(april["egress"]["cost_usd"]) == cents(50 * 0.09) == 4.50
    assert total(april) == 29.50


def test_organization_specific_override_only_applies_to_that_org(warehouse, tmp_path):
    overrides = tmp_path / "negotiated.yaml"
    overrides.write_text(
        "entries:\n"
        "  - {line_item: egress, plan: '*', organization: bigco, effective_from: 2024-01-01, unit: GB,\n"
        "     price_usd: 0.05, included: 1000, quota_scope: organization}\n"
        "  - {line_item: plan_fee, plan: enterprise, organization: bigco, effective_from: 2024-01-01,\n"
        "     unit: month, price_usd: 2000, kind: plan_fee}\n"
    )
    s = make_settings([("bigco", "enterprise"), ("acme", "pro")], [("x", "bigco", "micro"), ("y", "acme", "micro")])
    u = UsageSet(s)
    for p in ("x", "y"):
        u.compute(p, APRIL, "micro").every_day(p, APRIL, "egress_gb", 40)  # 1,200 GB each
    price(warehouse, u, APRIL[0], APRIL[-1], overrides=overrides)
    big, acme = report(warehouse, "bigco", APRIL[0]), report(warehouse, "acme", APRIL[0])
    assert cents(big["egress"]["cost_usd"]) == cents(200 * 0.05) == 10.00
    assert cents(big["plan_fee"]["cost_usd"]) == 2000.00
    assert cents(acme["egress"]["cost_usd"]) == cents(950 * 0.09) == 85.50


def test_unknown_usage_is_never_priced_as_zero(warehouse):
    s = make_settings([("acme", "pro")], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", APRIL, "micro")
    for d in APRIL:
        u.add("app", d, "egress_gb", None, status="unknown" if d.day > 10 else "known")
    u.rows = [r if r[3] != "egress_gb" or r[7] == "unknown" else (*r[:5], 20.0, *r[6:]) for r in u.rows]
    price(warehouse, u, APRIL[0], APRIL[-1])
    rep = report(warehouse, "acme", APRIL[0])
    assert rep["egress"]["status"] == "partial"
    with warehouse.reader() as conn:
        rows = conn.execute("select status, count(*), count(cost_usd) from cost.cost_breakdown_daily "
                            "where line_item = 'egress' group by status order by status").fetchall()
    assert rows == [("known", 10, 10), ("unknown", 20, 0)]


def test_running_month_projects_to_month_end(warehouse):
    """Ten days of April priced on April 10: linear projection to 30 days, re-priced after quota."""
    s = make_settings([("acme", "pro")], [("app", "acme", "micro")])
    u = UsageSet(s).compute("app", APRIL[:10], "micro").every_day("app", APRIL[:10], "egress_gb", 30)
    u.add("app", APRIL[2], "realtime_peak_connections", 700)
    price(warehouse, u, APRIL[0], APRIL[9], today=dt.date(2026, 4, 11))
    rep = report(warehouse, "acme", APRIL[0])
    assert cents(rep["egress"]["cost_usd"]) == cents(50 * 0.09) == 4.50           # 300 GB so far
    assert cents(rep["egress"]["projected_cost_usd"]) == cents(650 * 0.09) == 58.50  # 900 GB by the 30th
    assert cents(rep["compute_hours_micro"]["projected_cost_usd"]) == cents(720 * 0.01344)
    assert cents(rep["compute_credits"]["projected_cost_usd"]) == -cents(720 * 0.01344)
    assert cents(rep["realtime_peak_connections"]["projected_cost_usd"]) == 10.00   # a peak does not grow
    assert cents(rep["plan_fee"]["projected_cost_usd"]) == 25.00
    projected = cents(sum(r["projected_cost_usd"] for r in rep.values()))
    assert projected == cents(25 + 58.50 + 10.00) == 93.50


def test_pricing_day_by_day_equals_pricing_the_range(warehouse):
    """A daily schedule and a single-run backfill of the same month produce the same rows."""
    from aimatrix_pipeline.cost import pricing

    s = make_settings([("acme", "pro")], [("a", "acme", "micro"), ("b", "acme", "small")])
    u = UsageSet(s)
    for i, d in enumerate(APRIL):
        u.compute("a", [d], "micro").compute("b", [d], "small")
        u.add("a", d, "egress_gb", 5 + i).add("b", d, "egress_gb", 3)
        u.add("a", d, "realtime_peak_connections", 100 + 20 * i)
        u.add("b", d, "realtime_messages", 250_000)
    price(warehouse, u, APRIL[0], APRIL[-1])

    def rows():
        with warehouse.reader() as conn:
            return conn.execute("select * exclude (computed_at) from cost.cost_breakdown_daily "
                                "order by date, project nulls first, line_item").fetchall()

    whole = rows()
    with warehouse.transaction() as conn:
        for d in reversed(APRIL):  # any order: each day reads only raw usage
            pricing.price_days(conn, d, d)
    assert rows() == whole
