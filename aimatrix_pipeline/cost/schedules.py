"""Schedules of the cost domain (UTC): yesterday's usage is extracted once the day is over (the
pricing run follows each successful extract, sensors.py), then the running month's report (with
its month-end projection and budget check) is rebuilt.

Cron expressions come from the settings, `AIMATRIX_COST_DAILY_CRON` (default 02:15) and
`AIMATRIX_COST_REPORT_CRON` (default 02:45), so the report runs after the day is priced. The
schedule names say what runs, never when: a name keys the schedule's history and on/off state.

Not `dg.build_schedule_from_partitioned_job`: for time partitions it derives the cron from the
partitions (a minute and hour only), so an operator's cron could not be honoured, and the monthly
report targets the running month, which that builder never requests.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from aimatrix_pipeline.cost.jobs import COST_MONTHLY_JOB, USAGE_DAILY_JOB
from aimatrix_pipeline.settings import current_settings

DAILY_CRON = current_settings().schedules.cost_daily
REPORT_CRON = current_settings().schedules.cost_report


# the name is kept from when one run extracted and priced: it keys the schedule's history and state
@dg.schedule(name="price_yesterdays_usage", job=USAGE_DAILY_JOB, cron_schedule=DAILY_CRON,
             execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Extract yesterday's (UTC) usage for every project; the run pricing it "
             "follows when the extract succeeds (sensor price_extracted_usage).")
def cost_daily_schedule(context: dg.ScheduleEvaluationContext):
    when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    day = (when.astimezone(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    return dg.RunRequest(run_key=f"cost_daily@{day}", partition_key=day)


@dg.schedule(name="rebuild_monthly_cost_report", job=COST_MONTHLY_JOB, cron_schedule=REPORT_CRON,
             execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Rebuild the running month's report, projection and budget check.")
def cost_report_schedule(context: dg.ScheduleEvaluationContext):
    when = (context.scheduled_execution_time or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    # just after midnight on the 1st, yesterday's month is the one that just gained a day
    month = (when - dt.timedelta(days=1)).date().replace(day=1).isoformat()
    # one run per tick: a day's key would let an operator's hourly AIMATRIX_COST_REPORT_CRON
    # rebuild the report (and judge the budget) only once a day
    return dg.RunRequest(run_key=f"cost_report@{when.isoformat()}", partition_key=month)


COST_SCHEDULES = [cost_daily_schedule, cost_report_schedule]
