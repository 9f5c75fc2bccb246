"""Hostile API bodies and numbers: NaN, Infinity and overflowing values from the Supabase APIs,
`.nan`/`.inf` in the YAML files, and a server that answers one byte at a time.

Every number that crosses a boundary must be finite: from an API it becomes an unknown item with
the reason (never known usage, never a NaN cost, never "all budgets hold"); from a YAML file it is
a configuration error naming the file and the field (exit 2 from the CLI). The slow server is a
real threaded HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import dagster as dg
import pytest

from aimatrix_pipeline import cli
from aimatrix_pipeline.cost.assets import (
    cost_breakdown_daily,
    monthly_cost_report,
    price_book,
    usage_daily,
)
from aimatrix_pipeline.cost.checks import monthly_budget_not_exceeded
from aimatrix_pipeline.cost.usage import UsageRows
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.source_postgres import SourcePostgresResource
from aimatrix_pipeline.resources.supabase_api import SupabaseApiResource, SupabaseApiUnavailable
from aimatrix_pipeline.settings import ConfigError, Project, load_settings
from tests.cost import seed as S

DAY = dt.date(2026, 3, 2)
USAGE_PATH = "/platform/organizations/acme/usage/daily"


@pytest.fixture
def acme(tmp_path, monkeypatch, source_db18, fake_api):
    """Org acme (pro, $30 budget), project app on a seeded database, the local API."""
    S.seed(source_db18)
    monkeypatch.setenv("APP_DB_URL", source_db18.url)
    path = tmp_path / "projects.yaml"
    path.write_text("organizations:\n  - {slug: acme, plan: pro, monthly_budget_usd: 30}\n"
                    f"projects:\n  - {{name: app, organization: acme, db_url_env: APP_DB_URL, ref: {S.REF}}}\n")
    monkeypatch.setenv("AIMATRIX_PROJECTS_FILE", str(path))
    monkeypatch.delenv("AIMATRIX_PRICE_BOOK_OVERRIDES", raising=False)
    return path


def _resources(warehouse):
    api = SupabaseApiResource(backoff_s=0.01, max_retries=1, max_retry_after_s=0.05)
    return {"warehouse": warehouse, "source": SourcePostgresResource(), "supabase_api": api,
            "settings": SettingsResource()}


# ---------------------------------------------------------------------------- API numbers
# The body is sent as written: Python's json module reads NaN, Infinity and 1e999 as floats.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "-5"]


@pytest.mark.parametrize("literal", NON_FINITE)
def test_non_finite_usage_from_the_api_is_unknown_never_priced(acme, warehouse, fake_api, literal):
    body = ('{"usages": [{"date": "%s", "metric": "EGRESS", "usage": %s, "usage_original": 1, "breakdown": null},'
            ' {"date": "%s", "metric": "COMPUTE_HOURS_MICRO", "usage": 24, "usage_original": 24, "breakdown": null}]}'
            % (DAY, literal, DAY))
    fake_api.script(USAGE_PATH, (200, {}, body))
    resources = _resources(warehouse)
    priced = dg.materialize([usage_daily, price_book, cost_breakdown_daily], resources=resources,
                            partition_key=DAY.isoformat())
    reported = dg.materialize([monthly_cost_report, monthly_budget_not_exceeded], resources=resources,
                              partition_key="2026-03-01")
    assert priced.success and reported.success
    with warehouse.reader() as conn:
        egress = conn.execute("select status, usage, detail from raw.usage_daily "
                              "where metric = 'egress_gb' and usage_date = ?", [DAY]).fetchone()
        non_finite = conn.execute(
            "select count(*) from raw.usage_daily where not isfinite(usage)").fetchone()[0] + conn.execute(
            "select count(*) from cost.cost_breakdown_daily where not isfinite(cost_usd) or not isfinite(usage)"
        ).fetchone()[0] + conn.execute(
            "select count(*) from cost.monthly_cost_report where not isfinite(cost_usd) "
            "or not isfinite(projected_cost_usd)").fetchone()[0]
        daily = conn.execute("select status, cost_usd, detail from cost.cost_breakdown_daily "
                             "where line_item = 'egress' and date = ?", [DAY]).fetchone()
        report = conn.execute("select status from cost.monthly_cost_report "
                              "where line_item = 'egress' and month = '2026-03-01'").fetchone()
        compute = conn.execute("select status, usage from raw.usage_daily where metric = 'compute_hours' "
                               "and usage_date = ?", [DAY]).fetchone()
    assert egress[0] == "unknown" and egress[1] is None
    assert "EGRESS" in egress[2] and "not a finite, non-negative number" in egress[2]
    assert non_finite == 0
    assert daily[0] == "unknown" and daily[1] is None and "not a finite" in daily[2]
    assert report[0] == "unknown"
    assert compute == ("known", 24.0)  # the other values of the same body are kept
    check = reported.get_asset_check_evaluations()[0]
    assert check.metadata["unknown_or_partial_items"].value >= 1  # the margin is not hidden
    meta = priced.asset_materializations_for_node("raw__usage_daily")[0].metadata
    assert "EGRESS" in meta["unknown_because"].value


def test_non_finite_disk_size_is_unknown(acme, warehouse, fake_api):
    fake_api.disk["attributes"]["size_gb"] = float("nan")  # the server writes the literal NaN
    result = dg.materialize([usage_daily], resources=_resources(warehouse), partition_key=DAY.isoformat())
    assert result.success
    with warehouse.reader() as conn:
        disk = conn.execute("select status, usage, detail from raw.usage_daily "
                            "where metric = 'disk_gb_hours'").fetchall()
    assert disk and all(s == "unknown" and u is None and "size_gb" in d for s, u, d in disk)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_value_never_becomes_a_known_row(value):
    """The last guard in front of raw.usage_daily, for sources that do not check themselves."""
    rows = UsageRows(extracted_at=dt.datetime.now(dt.UTC))
    rows.add(Project("app", "acme", "X"), DAY, "api_requests", "rest", value, "requests", "management_api")
    row = rows.rows[0]
    assert row["status"] == "unknown" and row["usage"] is None and "non-finite" in row["detail"]


def test_a_nan_cost_in_the_warehouse_never_reads_as_within_budget(warehouse, monkeypatch, capsys):
    with warehouse.transaction() as conn:
        conn.execute("insert into cost.organizations values ('acme', 'pro', 30)")
        conn.execute("insert into cost.monthly_cost_report (organization, month, line_item, cost_usd, "
                     "projected_cost_usd, status) values ('acme', '2026-03-01', 'egress', 'nan', 'nan', 'known')")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    assert cli.main(["report", "cost", "--month", "2026-03"]) == 1
    assert "budget not judged: organization acme" in capsys.readouterr().err
    result = dg.materialize_to_memory(
        [dg.SourceAsset(monthly_cost_report.key), monthly_budget_not_exceeded],
        resources={"warehouse": warehouse, "settings": SettingsResource()}, selection=dg.AssetSelection.checks(monthly_budget_not_exceeded))
    check = result.get_asset_check_evaluations()[0]
    assert not check.passed and "cannot be judged" in check.description


# ---------------------------------------------------------------------------- YAML numbers
YAML_NON_FINITE = [".nan", ".NaN", ".inf", "-.inf", ".Inf"]


@pytest.mark.parametrize("value", YAML_NON_FINITE)
@pytest.mark.parametrize("where", ["organizations[0]", "projects[0]"])
def test_projects_file_budget_must_be_finite(tmp_path, value, where):
    org_budget = value if where.startswith("org") else "10"
    project_budget = value if where.startswith("proj") else "10"
    path = tmp_path / "projects.yaml"
    path.write_text(f"organizations:\n  - {{slug: acme, monthly_budget_usd: {org_budget}}}\n"
                    f"projects:\n  - {{name: app, organization: acme, db_url_env: APP_DB_URL, "
                    f"monthly_budget_usd: {project_budget}}}\n")
    with pytest.raises(ConfigError) as err:
        load_settings({"AIMATRIX_PROJECTS_FILE": str(path)})
    assert str(path) in str(err.value) and where in str(err.value)
    assert "'monthly_budget_usd' must be a finite number" in str(err.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_single_database_budget_must_be_finite(value):
    with pytest.raises(ConfigError, match="SUPABASE_MONTHLY_BUDGET_USD.*finite"):
        load_settings({"SUPABASE_MONTHLY_BUDGET_USD": value})


@pytest.mark.parametrize("value", YAML_NON_FINITE)
@pytest.mark.parametrize("field", ["price_usd", "per_quantity", "included"])
def test_price_book_numbers_must_be_finite(tmp_path, value, field):
    from aimatrix_pipeline.cost.price_book import load_price_book

    entry = {"price_usd": "0.1", "per_quantity": "1", "included": "5", field: value}
    path = tmp_path / "overrides.yaml"
    path.write_text("entries:\n  - {line_item: egress, plan: pro, effective_from: 2026-01-01, "
                    + ", ".join(f"{k}: {v}" for k, v in entry.items()) + "}\n")
    with pytest.raises(ConfigError) as err:
        load_price_book(overrides_path=path)
    assert str(path) in str(err.value) and "entries[0]" in str(err.value)
    assert f"'{field}' must be" in str(err.value)


def test_a_nan_price_fails_the_price_book_asset_naming_file_and_field(tmp_path, warehouse, monkeypatch):
    path = tmp_path / "overrides.yaml"
    path.write_text("entries:\n  - {line_item: egress, plan: pro, effective_from: 2026-01-01, price_usd: .nan}\n")
    monkeypatch.setenv("AIMATRIX_PRICE_BOOK_OVERRIDES", str(path))
    result = dg.materialize([price_book], resources={"warehouse": warehouse, "settings": SettingsResource()}, raise_on_error=False)
    assert not result.success
    error = result.failure_data_for_node("cost__price_book").error
    message = error.cause.message if error.cause else error.message
    assert error.cause is None or error.cause.cls_name == "ConfigError"
    assert str(path) in message and "entries[0]: 'price_usd' must be a finite number" in message


@pytest.mark.parametrize("value", YAML_NON_FINITE)
def test_alert_rule_threshold_must_be_finite_and_the_cli_exits_2(tmp_path, monkeypatch, capsys, value):
    path = tmp_path / "alert_rules.yaml"
    path.write_text("rules:\n  - id: slow\n    title: slow\n    message: slow\n    severity: high\n"
                    f"    metric: slow_query_avg_ms\n    operator: '>'\n    threshold: {value}\n")
    monkeypatch.setenv("AIMATRIX_ALERT_RULES", str(path))
    monkeypatch.setenv("AIMATRIX_ALERT_STATE", str(tmp_path / "state.duckdb"))
    assert cli.main(["alerts", "list"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "rule 'slow'" in err and "'threshold' must be a finite number" in err


@pytest.mark.parametrize("value", YAML_NON_FINITE)
def test_analytics_thresholds_file_numbers_must_be_finite(tmp_path, value):
    from aimatrix_pipeline.shared.thresholds import load_thresholds

    path = tmp_path / "thresholds.yaml"
    path.write_text(f"unused_index_min_bytes: {value}\nslow_query_ms: 100\n")
    with pytest.raises(ConfigError) as err:
        load_thresholds({"AIMATRIX_ANALYTICS_THRESHOLDS": str(path)})
    assert str(path) in str(err.value) and "unused_index_min_bytes" in str(err.value)
    path.write_text(f"slow_query_ms: {value}\n")
    with pytest.raises(ConfigError, match="slow_query_ms must be a finite number"):
        load_thresholds({"AIMATRIX_ANALYTICS_THRESHOLDS": str(path)})


# ---------------------------------------------------------------------------- slow answers
class DripServer:
    """Answers every request with a status line, headers and a body, one byte per `interval_s`
    (from the first byte of the status line when `drip_headers`, else after complete headers)."""

    def __init__(self, interval_s: float = 1.0, drip_headers: bool = False):
        self.interval_s, self.drip_headers = interval_s, drip_headers
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.stopped = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.sock.getsockname()[1]

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        body = json.dumps({"attributes": {"type": "gp3", "size_gb": 8}}).encode()
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n")
        try:
            conn.recv(65536)
            if not self.drip_headers:
                conn.sendall(head)
            for byte in (head if self.drip_headers else b"") + body:
                if self.stopped.wait(self.interval_s):
                    break
                conn.sendall(bytes([byte]))
        except OSError:
            pass  # the client gave up: what the deadline is for
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopped.set()
        self.sock.close()


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "headers"])
def test_a_server_dripping_bytes_hits_the_request_deadline(monkeypatch, drip_headers):
    """One byte a second never trips httpx's per-read timeout (30 s); the 2 s request deadline
    ends the call with a clear error, and it is not retried."""
    server = DripServer(interval_s=1.0, drip_headers=drip_headers)
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_test_token")
    resource = SupabaseApiResource(deadline_s=2.0, timeout_s=30.0, max_retries=3, backoff_s=0.01)
    outcome: dict = {}

    def call():
        try:
            with resource.client() as api:
                outcome["value"] = api.disk("abcdefghijklmnopqrst")
        except Exception as exc:  # noqa: BLE001 - the test inspects whatever came out
            outcome["error"] = exc

    worker = threading.Thread(target=call, daemon=True)
    try:
        worker.start()
        worker.join(timeout=40)  # the test's own bound: far below the 60+ s a drip would take
        assert not worker.is_alive(), "the call did not return: no request deadline"
    finally:
        server.stop()
    error = outcome.get("error")
    assert isinstance(error, SupabaseApiUnavailable), outcome
    assert "2s request deadline" in str(error) and "/v1/projects/{ref}/config/disk" in str(error)
    assert server.connections == 1  # not retried


def test_a_prompt_server_is_unaffected_by_the_deadline(fake_api):
    resource = SupabaseApiResource(deadline_s=2.0)
    with resource.client() as api:
        started = time.monotonic()
        for _ in range(3):  # the connection is reused after the watchdog was cancelled
            assert api.disk(S.REF)["attributes"]["type"] == "gp3"
    assert time.monotonic() - started < 60  # sanity only: the answers came back


def test_a_host_that_timed_out_is_not_called_again_in_the_step(monkeypatch):
    """The usage step makes several calls (usage, add-ons, disk, ...): after the first one times
    out, the rest fail at once with the reason, and the slow server sees one connection only."""
    server = DripServer(interval_s=1.0)
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_test_token")
    resource = SupabaseApiResource(deadline_s=2.0, timeout_s=30.0, max_retries=3, backoff_s=0.01)
    errors = []
    try:
        with resource.client() as api:
            for call in (api.disk, api.project_addons, api.disk):
                with pytest.raises(SupabaseApiUnavailable) as raised:
                    call("abcdefghijklmnopqrst")
                errors.append(str(raised.value))
    finally:
        server.stop()
    assert "2s request deadline" in errors[0] and "not called again" in errors[0]
    assert all("not called: the API timed out earlier in this step" in e for e in errors[1:]), errors
    assert server.connections == 1


def test_the_steps_api_calls_share_one_budget(monkeypatch):
    """A budget shorter than one request's deadline ends the call at the budget, names it, and
    no later call of the session is made."""
    server = DripServer(interval_s=1.0)
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    monkeypatch.setenv("SUPABASE_ACCESS_TOKEN", "sbp_test_token")
    resource = SupabaseApiResource(deadline_s=30.0, budget_s=1.5, timeout_s=30.0, max_retries=0)
    try:
        with resource.client() as api:
            with pytest.raises(SupabaseApiUnavailable, match="1.5s budget of this step's API calls"):
                api.disk("abcdefghijklmnopqrst")
            with pytest.raises(SupabaseApiUnavailable, match="not called"):
                api.project_addons("abcdefghijklmnopqrst")
    finally:
        server.stop()
    assert server.connections == 1


def test_a_slow_api_costs_the_usage_step_one_deadline_and_never_holds_the_warehouse(acme, warehouse, monkeypatch):
    """Against a real server sending one byte a second: the usage step's first call times out,
    no other call reaches the server, its items are unknown, and while it waits on the network
    another writer takes the warehouse at once (the write lock is taken only after the calls)."""
    server = DripServer(interval_s=1.0)
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    resources = {**_resources(warehouse), "supabase_api": SupabaseApiResource(deadline_s=3.0, max_retries=1,
                                                                              backoff_s=0.01)}
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(result=dg.materialize(
        [usage_daily], resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)), daemon=True)
    try:
        worker.start()
        while server.connections == 0 and worker.is_alive():  # the step is now waiting on the network
            time.sleep(0.05)
        with warehouse.model_copy(update={"lock_timeout_s": 2.0}).transaction() as conn:
            conn.execute("select 1").fetchall()
        worker.join(timeout=120)
        assert not worker.is_alive(), "the usage step did not return"
    finally:
        server.stop()
    assert outcome["result"].success
    assert server.connections == 1  # the other endpoints were not called after the timeout
    with warehouse.reader() as conn:
        unknown = conn.execute("select count(*) from raw.usage_daily where status = 'unknown' "
                               "and detail like '%not called%'").fetchone()[0]
    assert unknown >= 1


# ---------------------------------------------------------------------------- the warehouse pool
@pytest.fixture
def repo_instance(pg18, tmp_path, monkeypatch):
    """A DagsterInstance from the repository's dagster.yaml (pools per run, 1 warehouse slot),
    storage in a fresh database on PG 18, as deployed."""
    import shutil
    from pathlib import Path

    name = f"dagster_{tmp_path.name[-20:].replace('-', '_').lower()}"
    pg18.drop_database(name)
    url = pg18.create_database(name)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(Path(__file__).resolve().parents[2] / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_PG_URL", url.replace("postgresql://", "postgresql+psycopg2://"))
    with dg.DagsterInstance.get() as inst:
        yield inst
    pg18.drop_database(name)


def _queue_would_hold(inst: dg.DagsterInstance, queued) -> bool:
    """The run queue's decision for `queued` now: QueuedRunCoordinatorDaemon builds this counter
    from the instance's active runs and the pool's slots on every iteration."""
    from dagster._core.op_concurrency_limits_counter import GlobalOpConcurrencyLimitsCounter
    from dagster._core.storage.dagster_run import ACTIVE_RUN_STATUSES

    config = inst.get_concurrency_config()
    storage = inst.event_log_storage
    counter = GlobalOpConcurrencyLimitsCounter(
        inst, [queued], inst.get_run_records(filters=dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES)),
        concurrency_keys=storage.get_concurrency_keys(), pool_limits=storage.get_pool_limits(),
        slot_count_offset=config.run_queue_config.op_concurrency_slot_buffer,
        pool_granularity=config.pool_config.pool_granularity)
    return counter.is_blocked(queued)


def _while_waiting_on_the_network(inst, job, resources, server, look):
    """Run `job` for DAY on `inst` in a thread; call `look()` while its usage step waits on the
    slow server; return what `look` returned and the run's result."""
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(result=job.execute_in_process(
        instance=inst, resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)), daemon=True)
    worker.start()
    try:
        while server.connections == 0 and worker.is_alive():  # the step is now waiting on the network
            time.sleep(0.05)
        assert worker.is_alive(), outcome
        seen = look()
    finally:
        worker.join(timeout=120)
    assert not worker.is_alive(), "the usage step did not return"
    return seen, outcome["result"]


def test_a_pooled_warehouse_run_is_not_held_while_the_usage_step_waits_on_the_network(
        acme, warehouse, repo_instance, monkeypatch):
    """With the deployment's dagster.yaml (pools enforced per run, one warehouse slot), a queued
    pricing run is launched at once while the usage_daily run waits on a server sending one byte
    a second; the old shape, usage and pricing in one run, held it for that whole wait. The
    pricing of the day follows the extract through the sensor."""
    from aimatrix_pipeline.cost.assets import COST_ASSETS, USAGE_ASSETS
    from aimatrix_pipeline.cost.jobs import COST_DAILY_JOB, USAGE_DAILY_JOB
    from aimatrix_pipeline.cost.sensors import price_extracted_usage
    from aimatrix_pipeline.resources import WAREHOUSE_POOL

    inst = repo_instance
    assert inst.get_concurrency_config().pool_config.pool_granularity.value == "run"
    assert inst.event_log_storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    assert inst.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1
    resources = {**_resources(warehouse), "supabase_api": SupabaseApiResource(deadline_s=3.0, max_retries=1,
                                                                              backoff_s=0.01)}
    one_run = dg.define_asset_job("usage_and_pricing_in_one_run",
                                  selection=dg.AssetSelection.assets(usage_daily, price_book, cost_breakdown_daily),
                                  partitions_def=USAGE_DAILY_JOB.partitions_def)
    defs = dg.Definitions(assets=[*USAGE_ASSETS, *COST_ASSETS], jobs=[USAGE_DAILY_JOB, COST_DAILY_JOB, one_run],
                          sensors=[price_extracted_usage], resources=resources)
    pricing = defs.resolve_job_def("cost_daily")
    # a pricing run waiting to launch (stored not started: a QUEUED run needs a code server's origin;
    # the queue judges a candidate by the pools its plan declares, as here)
    queued = inst.create_run_for_job(pricing, tags={"dagster/partition": DAY.isoformat()})
    assert queued.run_op_concurrency and WAREHOUSE_POOL in queued.run_op_concurrency.all_pools
    assert not _queue_would_hold(inst, queued)  # nothing in flight: the slot is free

    server = DripServer(interval_s=1.0)
    monkeypatch.setenv("SUPABASE_API_URL", server.url)
    try:
        # the old shape first: its usage step waiting on the network keeps the pricing run queued
        held, combined = _while_waiting_on_the_network(
            inst, defs.resolve_job_def("usage_and_pricing_in_one_run"), resources, server,
            lambda: _queue_would_hold(inst, queued))
        assert held, "a run with pooled steps must hold the warehouse slot (else this test proves nothing)"
        assert combined.success
        server.connections = 0

        def look():
            [active] = inst.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
            assert active.dagster_run.job_name == "usage_daily"
            assert active.dagster_run.run_op_concurrency is None  # no pooled step: no slot held
            return _queue_would_hold(inst, queued)

        held, extract = _while_waiting_on_the_network(inst, defs.resolve_job_def("usage_daily"), resources,
                                                      server, look)
    finally:
        server.stop()
    assert not held, "the pooled pricing run waited for the usage step's network calls"
    assert extract.success
    assert server.connections == 1  # one timed-out call, no other call in the step

    # the day's pricing follows the successful extract, once per extract run
    run = inst.get_run_by_id(extract.run_id)
    success = next(e for e in inst.all_logs(run.run_id) if e.dagster_event_type == dg.DagsterEventType.RUN_SUCCESS)
    request = price_extracted_usage(dg.build_run_status_sensor_context(
        sensor_name="price_extracted_usage", dagster_event=success.dagster_event, dagster_instance=inst,
        dagster_run=run, repository_def=defs.get_repository_def()))
    assert request.partition_key == DAY.isoformat()
    assert request.run_key == f"priced_after@{run.run_id}"
    priced = pricing.execute_in_process(instance=inst, partition_key=request.partition_key, tags=request.tags)
    assert priced.success
    with warehouse.reader() as conn:
        days = conn.execute("select distinct date from cost.cost_breakdown_daily").fetchall()
    assert days == [(DAY,)]
