"""Hostile text in every dashboard data set: the page still draws, shows the text as text, runs nothing.

The data sets carry names and text read from monitored databases (query text, object names, alert
messages), so any of them can hold markup. The page embeds its data as JSON inside a <script>
element; `<!--` or `</script>` in a value used to break that (no tables or charts at all).

The data sets here have the real column names and types of `sql/warehouse/dashboard/*.sql` (read
from the warehouse schema), with every text column cycling through HOSTILE, numbers including NaN
and Infinity, and real timestamps, so the charts have something to draw.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest

from aimatrix_pipeline.dashboard.data import FOLDER, DashboardData, Dataset, dataset_names
from aimatrix_pipeline.dashboard.render import TEMPLATE, render_html, script_safe_json, write_html
from aimatrix_pipeline.sql_files import load_sql

# Each injection would set window.__pwned (or open an alert) if the page ever executed it: the
# page's CSP allows inline scripts and handlers, so escaping is the only thing stopping them.
INJECTIONS = [
    "<script>window.__pwned='script'</script>",
    "</script><script>window.__pwned='breakout'</script>",
    "<!--<script>window.__pwned='comment'</script>",
    "--></script><script>window.__pwned='end-comment'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "<svg onload=window.__pwned='svg'></svg>",
    "<script>alert(1)</script>",
    "<iframe srcdoc=\"<script>parent.__pwned='iframe'</script>\"></iframe>",
]
HOSTILE = INJECTIONS + [
    "<!--",
    "-->",
    "<![CDATA[ ]]>",
    "</SCRIPT >",
    '"double" \'single\' `back`',
    "back\\slash \\u003c \\\" \\",
    "line\u2028separator\u2029paragraph",
    "tab\there\nnewline\r\nend",
    "NaN",
    "Infinity",
    "-Infinity",
    "null",
    "undefined",
    "__proto__",
    "${window.__pwned='template'}",
    "&lt;not a tag&gt; &amp; &#60;",
    "\u202eright-to-left override",
    "nul\x00byte",
    b"non-utf8 \xff\xfe\xc3(".decode("utf-8", "surrogateescape"),  # lone surrogates
    b"replaced \xff\xfe".decode("utf-8", "replace"),
    "\U0001f4a5 emoji and \u00e9 accents",
    "__DASHBOARD_DATA__",
    "x" * 100_000,
]
CHART_SECTIONS = ("cost", "slow", "cache", "conns", "vector", "errors", "cpu", "memory", "disk", "network")
ROWS = 2 * len(HOSTILE)
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _value(dataset: str, column: str, type_name: str, i: int):
    text = HOSTILE[i % len(HOSTILE)]
    if dataset == "projects" and column == "project":
        return text  # the project picker's options
    if column == "project":  # '*' rows feed the fleet view's tables; the others are series names
        return "*" if i % 2 == 0 else HOSTILE[(i // 2) % len(HOSTILE)]
    if dataset == "slow_query_trend" and column == "source" and i < 4:
        return ("pg_stat_statements", "app_log")[i // 2]
    if type_name == "VARCHAR":
        return text
    if type_name.startswith("TIMESTAMP"):
        return T0 - timedelta(minutes=7 * i)
    if type_name == "DATE":
        return date(2026, 11, 1) if column == "month" else date(2026, 11, 1) + timedelta(days=i % 20)
    if type_name == "DOUBLE":
        if i % 5 == 3:
            return math.nan
        if i % 7 == 5:
            return math.inf
        return 0.05 + (i % 10) * 0.1
    if type_name in ("INTEGER", "BIGINT", "HUGEINT"):
        return i + 1
    if type_name == "BOOLEAN":
        return (True, False, None)[i % 3]
    raise AssertionError(f"{dataset}.{column}: no hostile value for type {type_name}")


@pytest.fixture
def hostile_data(warehouse) -> DashboardData:
    with warehouse.transaction():
        pass  # creates the warehouse schema the dashboard queries read
    datasets = {}
    with warehouse.reader() as conn:
        for name in dataset_names():
            cur = conn.execute(load_sql(f"{FOLDER}/{name}.sql"))
            cols = [(d[0], str(d[1])) for d in cur.description]
            rows = [tuple(_value(name, c, t, i) for c, t in cols) for i in range(ROWS)]
            datasets[name] = Dataset(name, [c for c, _ in cols], rows)
    assert len(datasets) >= 11
    return DashboardData("2026-11-20T12:00:00Z", "<!--warehouse--></script>.duckdb", datasets)


def _embedded(html: str) -> str:
    start = html.index('<script type="application/json" id="dashboard-data">') + len(
        '<script type="application/json" id="dashboard-data">')
    return html[start:html.index("</script>", start)]


def test_embedded_json_is_valid_and_cannot_end_or_comment_the_script(hostile_data):
    html = render_html(hostile_data)
    template = TEMPLATE.read_text()
    # nothing from the data opens a comment, closes an element or starts a tag
    for marker in ("<!--", "-->", "</script", "</SCRIPT", "<script", "<img", "<svg", "<iframe"):
        assert html.count(marker) == template.count(marker), marker
    payload = _embedded(html)
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert "\u2028" not in payload and "\u2029" not in payload
    # the same values come back out: strings exactly (lone surrogates too), NaN/Infinity as null
    assert json.loads(payload) == hostile_data.to_json_obj()
    assert json.loads(payload)["datasets"]["open_alerts"]["rows"][0][4] == HOSTILE[0]
    assert script_safe_json({"k": "<!--"}) == '{"k":"\\u003c!--"}'


def _browser_state(driver) -> dict:
    return driver.execute_script(
        """
        const texts = new Set();
        document.querySelectorAll("td, td *, option, .legend span, title, text").forEach(
            e => texts.add(e.textContent));
        const expected = JSON.parse(arguments[0]);
        return {
          rendered: document.body.dataset.rendered === "true",
          pwned: window.__pwned === undefined ? null : String(window.__pwned),
          scripts: document.scripts.length,
          injected: document.querySelectorAll("img, iframe, object, embed").length,
          charts: Object.fromEntries(arguments[1].map(id => [id, document.querySelectorAll(`#${id} svg.chart`).length])),
          missing: expected.map((s, i) => texts.has(s) ? -1 : i).filter(i => i >= 0),
          rows: Object.fromEntries(["alerts", "queries", "recs", "costtable"].map(
            id => [id, document.querySelectorAll(`#${id} tbody tr`).length])),
          options: document.querySelectorAll("#project option").length,
          meta: document.getElementById("meta").textContent,
        };
        """,
        json.dumps(HOSTILE),  # ASCII JSON: lone surrogates travel intact to the page
        list(CHART_SECTIONS),
    )


def test_page_with_hostile_data_draws_everything_and_runs_nothing(hostile_data, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import Select

    from tests.ui.browser import console_errors, screenshot, start_browser, stop_browser

    page = write_html(hostile_data, tmp_path / "index.html")
    driver = start_browser()
    try:
        # a malformed fragment must not stop the page either
        driver.get(page.as_uri() + "#%E0%A4%A")
        with pytest.raises(NoAlertPresentException):
            driver.switch_to.alert  # noqa: B018 - raises when no injected alert() ran
        state = _browser_state(driver)
        screenshot(driver, "dashboard-hostile.png")  # not full_page: the 100k-character cell is very wide
        assert state["rendered"], "the page script did not finish (data not parsed?)"
        assert state["pwned"] is None, f"injected script ran: {state['pwned']}"
        assert state["scripts"] == 2 and state["injected"] == 0, state
        assert state["charts"] == {sid: 1 for sid in CHART_SECTIONS}, state["charts"]
        half = ROWS // 2
        assert state["rows"] == {"alerts": ROWS, "queries": half, "recs": half, "costtable": half}, state["rows"]
        assert state["options"] == 1 + ROWS  # "All projects" + every (hostile) project name
        assert state["missing"] == [], [HOSTILE[i][:40] for i in state["missing"]]
        assert state["meta"] == "rendered 2026-11-20T12:00:00Z from <!--warehouse--></script>.duckdb"

        # switching to a hostile project re-renders with it as the filter, still without running it
        select = Select(driver.find_element("css selector", "#project"))
        for index in (1, 2, 3, 4, 5):
            select.select_by_index(index)
            state = _browser_state(driver)
            assert state["pwned"] is None and state["injected"] == 0, state
            assert driver.find_element("css selector", "#cost-sub").text.startswith(select.options[index].text[:10])
        assert console_errors(driver) == []
    finally:
        stop_browser(driver)
