"""Retention/downsampling of raw snapshots keeps derived totals exact across the boundaries.

The raw rows are synthetic but shaped like real pg_stat_statements snapshots (cumulative counters
per statement every 5 minutes, with a pg_stat_statements_reset(), an eviction and return, and a
server restart inside downsampled buckets), written straight into a real DuckDB warehouse. The
analytics derivations are the real SQL files; they run before and after retention, and every
hourly total (full and hourly tiers) and daily total (daily tier) must be the same.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from aimatrix_pipeline.analytics import derive
from aimatrix_pipeline.fleet import retention
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.settings import ConfigError
from aimatrix_pipeline.shared.thresholds import load_thresholds

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
DAYS = 4
NOW = T0 + timedelta(days=DAYS)
POLICY = retention.RetentionPolicy(full_days=1, hourly_days=2)
STEPS = DAYS * 288  # one snapshot every 5 minutes

# snapshot indexes of the special events (all inside buckets that get downsampled)
RESET_AT = 300 + 7  # day 1 (daily tier), mid-hour: pg_stat_statements_reset() before this one
EVICT_AT = 2 * 288 + 40  # day 2 (hourly tier): statement 5 evicted, back 2 snapshots later
RESTART_AT = 2 * 288 + 100  # day 2 (hourly tier): server restart, counters restart

SYNTH = f"""
insert into raw.pg_stat_statements_snapshots by name
with grid as (
    select p.project, s.s, q.q
    from (values ('p1'), ('p2')) p(project), range({STEPS}) s(s), range(1, 6) q(q)
    where not (q.q = 5 and s.s in ({EVICT_AT}, {EVICT_AT + 1}))
),
inc as (
    select *,
           ((s * q + length(project)) % 7) + 1 as d_calls,
           case when s >= {RESTART_AT} then 3 when s >= {EVICT_AT + 2} and q = 5 then 2
                when s >= {RESET_AT} then 1 else 0 end as epoch_no
    from grid
)
select project,
       TIMESTAMPTZ '{T0.isoformat()}' + to_minutes(5 * s) as snapshot_at,
       10 as userid, 1 as dbid, true as toplevel, 1000 + q as queryid,
       sum(d_calls) over w as calls,
       sum(d_calls * (q * 1.25 + (s % 3))) over w as total_exec_time,
       sum(d_calls * 2) over w as rows,
       0 as plans, 0.0 as total_plan_time,
       q * 10.0 as max_exec_time
from inc
window w as (partition by project, q, epoch_no order by s)
"""

SYNTH_INFO = f"""
insert into raw.pg_stat_statements_info by name
select p.project,
       TIMESTAMPTZ '{T0.isoformat()}' + to_minutes(5 * s.s) as snapshot_at,
       1 as dbid, 'db' as datname,
       case when s.s >= {EVICT_AT} then 1 else 0 end as dealloc,
       case when s.s >= {RESET_AT} then TIMESTAMPTZ '{T0.isoformat()}' + to_minutes(5 * {RESET_AT} - 2)
            else TIMESTAMPTZ '2026-01-01 00:00:00+00' end as stats_reset,
       case when s.s >= {RESTART_AT} then TIMESTAMPTZ '{T0.isoformat()}' + to_minutes(5 * {RESTART_AT} - 1)
            else TIMESTAMPTZ '2026-01-01 00:00:00+00' end as postmaster_start_time,
       180000 as server_version_num, 5000 as statements_max, 5 as statements_count
from (values ('p1'), ('p2')) p(project), range({STEPS}) s(s)
"""

SYNTH_TABLES = f"""
insert into raw.table_stats (project, snapshot_at, relid, schemaname, relname, n_live_tup, seq_scan)
select p.project, TIMESTAMPTZ '{T0.isoformat()}' + to_minutes(5 * s.s), 1, 'app', 't', s.s, s.s * 2
from (values ('p1'), ('p2')) p(project), range({STEPS}) s(s)
"""

HOURLY = """
select project, queryid, floor(epoch(snapshot_at) / 3600) as hour,
       sum(calls) as calls, round(sum(total_time_ms), 6) as total_time_ms, sum(rows) as rows
from analytics.pg_stat_statements_deltas
where snapshot_at >= $since
group by all order by all
"""

DAILY = """
select project, queryid, floor(epoch(snapshot_at) / 86400) as day,
       sum(calls) as calls, round(sum(total_time_ms), 6) as total_time_ms, sum(rows) as rows
from analytics.pg_stat_statements_deltas
group by all order by all
"""

# re-bucketed by the UTC hour here: on DuckDB 2.0 `//` on a DOUBLE divides without flooring,
# so the derivation's hour_bucket may carry minutes; the totals per real hour are what must hold
SUMMARY_HOURLY = """
select project, fingerprint, floor(epoch(hour_bucket) / 3600) as hour,
       sum(calls), round(sum(total_time_ms), 6), sum(rows)
from analytics.slow_queries_summary
where hour_bucket >= $since and source = 'pg_stat_statements'
group by all order by all
"""


def _derive(conn) -> None:
    thresholds = dataclasses.replace(load_thresholds(), summary_window_hours=24 * 365)
    for project in ("p1", "p2"):
        params = derive.base_params(project, thresholds, as_of=NOW)
        for table in ("pg_stat_statements_intervals", "pg_stat_statements_deltas", "slow_queries_summary"):
            derive.replace_rows(conn, table, params)


def _state(conn, since: datetime) -> dict:
    return {
        "hourly": conn.execute(HOURLY, {"since": since}).fetchall(),
        "daily": conn.execute(DAILY).fetchall(),
        "summary": conn.execute(SUMMARY_HOURLY, {"since": since}).fetchall(),
    }


@pytest.fixture
def synthetic(warehouse):
    with warehouse.transaction() as conn:
        conn.execute(SYNTH)
        conn.execute(SYNTH_INFO)
        conn.execute(SYNTH_TABLES)
    return warehouse


def test_downsampling_keeps_derived_totals(synthetic):
    cutoffs = POLICY.cutoffs(NOW)
    with synthetic.transaction() as conn:
        _derive(conn)
        before = _state(conn, cutoffs["hourly_cutoff"])
        kinds = dict(conn.execute(
            "select interval_kind, count(*) from analytics.pg_stat_statements_intervals group by 1"
        ).fetchall())
    # the synthetic history really contains the events the policy must respect
    assert kinds["stats_reset"] == 2 and kinds["restart"] == 2
    assert before["daily"] and before["hourly"] and before["summary"]

    result = retention.run_retention(synthetic, POLICY, now=NOW)

    with synthetic.transaction() as conn:
        _derive(conn)
        after = _state(conn, cutoffs["hourly_cutoff"])
        per_tier = dict(conn.execute(
            "select case when snapshot_at >= $f then 'full' when snapshot_at >= $h then 'hourly' "
            "else 'daily' end, count(distinct snapshot_at) from raw.pg_stat_statements_snapshots "
            "where project = 'p1' group by 1",
            {"f": cutoffs["full_cutoff"], "h": cutoffs["hourly_cutoff"]},
        ).fetchall())

    assert after["hourly"] == before["hourly"]
    assert after["daily"] == before["daily"]
    assert after["summary"] == before["summary"]

    # resolution really went down: all 288 of the last day, ~24 per hourly day, ~1 per daily day
    assert per_tier["full"] == 288
    assert 24 <= per_tier["hourly"] <= 24 + 4  # + the pinned reset/restart/eviction neighbours
    assert 2 <= per_tier["daily"] <= 2 + 3  # + the first snapshot and the reset pair
    assert result.rows_removed["pg_stat_statements_snapshots"] > 0
    assert result.rows_removed["table_stats"] == 2 * (288 * 3 - 24 - 2)
    assert result.warehouse_bytes > 0


def test_retention_is_idempotent_and_moves_snapshots_between_tiers(synthetic):
    first = retention.run_retention(synthetic, POLICY, now=NOW)
    again = retention.run_retention(synthetic, POLICY, now=NOW)
    assert first.total_removed > 0
    assert again.total_removed == 0
    assert again.rows_kept == first.rows_kept

    # a day later the last full day becomes hourly and the hourly day becomes daily: one more pass
    # thins both,
    # and the daily totals are still those of the untouched history
    with synthetic.transaction() as conn:
        _derive(conn)
        daily_before = conn.execute(DAILY).fetchall()
    later = retention.run_retention(synthetic, POLICY, now=NOW + timedelta(days=1))
    assert later.rows_removed["table_stats"] == 2 * ((288 - 24) + (24 - 1))
    with synthetic.transaction() as conn:
        _derive(conn)
        assert conn.execute(DAILY).fetchall() == daily_before


def test_failed_pass_removes_nothing(synthetic, monkeypatch):
    with synthetic.reader() as conn:
        before = conn.execute("select count(*) from raw.pg_stat_statements_snapshots").fetchone()[0]

    def broken(name, table):
        if table == "activity":
            # takes the pass's parameters like every real statement (DuckDB checks their count first)
            return ("select no_such_column as project, now() as snapshot_at from raw.activity "
                    "where $full_cutoff is not null and $hourly_cutoff is not null")
        return original(name, table)

    original = retention._sql
    monkeypatch.setattr(retention, "_sql", broken)
    with pytest.raises(Exception, match="no_such_column"):
        retention.run_retention(synthetic, POLICY, now=NOW)
    with synthetic.reader() as conn:
        assert conn.execute("select count(*) from raw.pg_stat_statements_snapshots").fetchone()[0] == before


def test_app_logs_pruned_only_when_configured(warehouse):
    with warehouse.transaction() as conn:
        conn.execute(
            "insert into raw.error_events (project, id, created_at) values "
            "('p1', uuid(), TIMESTAMPTZ '2026-01-01 00:00:00+00'), ('p1', uuid(), $now)",
            {"now": NOW},
        )
    retention.run_retention(warehouse, POLICY, now=NOW)
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 2
    retention.run_retention(warehouse, retention.RetentionPolicy(app_log_days=30), now=NOW)
    with warehouse.reader() as conn:
        assert conn.execute("select count(*) from raw.error_events").fetchone()[0] == 1


def test_policy_from_env_and_validation():
    policy = retention.policy_from_env({"AIMATRIX_RETENTION_FULL_DAYS": "3"})
    assert (policy.full_days, policy.hourly_days, policy.app_log_days) == (3, 90, None)
    assert retention.policy_from_env({}, hourly_days=30).hourly_days == 30
    with pytest.raises(ConfigError, match="AIMATRIX_RETENTION_HOURLY_DAYS"):
        retention.policy_from_env({"AIMATRIX_RETENTION_HOURLY_DAYS": "ninety"})
    with pytest.raises(ConfigError, match="hourly_days"):
        retention.RetentionPolicy(full_days=10, hourly_days=5)


def test_retention_asset_reports_removed_rows_as_observations_of_the_owning_assets(synthetic):
    import dagster as dg

    from aimatrix_pipeline.fleet.assets import snapshot_retention

    result = dg.materialize(
        [snapshot_retention],
        resources={"warehouse": synthetic, "settings": SettingsResource()},
        run_config={"ops": {"raw__snapshot_retention": {"config": {
            "full_days": 1, "hourly_days": 2, "now": NOW.isoformat()}}}},
    )
    assert result.success
    meta = result.asset_materializations_for_node("raw__snapshot_retention")[0].metadata
    assert meta["rows_removed/table_stats"].value == 2 * (288 * 3 - 24 - 2)
    assert meta["warehouse_bytes"].value > 0
    # it owns no table, so it shows no other asset's row count or schema as its own ...
    assert "dagster/row_count" not in meta and "dagster/column_schema" not in meta
    # ... and each owner gets an observation of what happened to its table
    observed = {e.asset_key.to_user_string(): e.event_specific_data.asset_observation.metadata
                for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"}
    with synthetic.reader() as conn:
        kept = conn.execute("select count(*) from raw.pg_stat_statements_snapshots").fetchone()[0]
    assert observed["raw/pg_stat_statements"]["dagster/row_count"].value == kept
    assert observed["raw/table_stats"]["rows_removed/table_stats"].value == 2 * (288 * 3 - 24 - 2)
    assert observed["raw/table_stats"]["aimatrix/observed_by"].value == "raw/snapshot_retention"
