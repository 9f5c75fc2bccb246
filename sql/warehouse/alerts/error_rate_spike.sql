-- Application error spike from analytics.error_stats: errors in the 1 h window divided by the
-- mean hourly count of the 24 h window ending at the same time. 1.0 = normal; NULL without
-- errors in the 24 h window. Parameters: $project.
-- The spike is judged on the newest raw.error_events load TAKEN (raw.extract_state.updated_at,
-- written by every load, also one that found no new error): when that load brought no error, the
-- source has gone quiet and the value is 0 (errors_in_latest_load says so). An empty load is a
-- judgement too: otherwise the errors of the last busy hour would keep the alert firing after the
-- errors stopped. Rows carry their load's time as extracted_at.
with latest as (
    select max(window_end) as ts from analytics.error_stats where project = $project
),
latest_load as (
    select greatest(
        (select max(updated_at) from raw.extract_state where project = $project and source_table = 'error_events'),
        (select max(extracted_at) from raw.error_events where project = $project)) as ts
),
load_errors as (
    select count(*) as n
    from raw.error_events e, latest_load
    where e.project = $project and e.extracted_at = latest_load.ts
),
totals as (
    select
        max(s.error_count) filter (where s.time_window = '1h') as last_hour,
        max(s.error_count) filter (where s.time_window = '24h') / 24.0 as mean_per_hour_24h,
        any_value(latest.ts) as window_end
    from analytics.error_stats s, latest
    where s.project = $project and s.window_end = latest.ts and s.dimension = 'total'
)
select
    case when load_errors.n = 0 and latest_load.ts is not null and totals.window_end is not null then 0.0
         else coalesce(last_hour, 0) / nullif(mean_per_hour_24h, 0) end as value,
    coalesce(last_hour, 0) as errors_last_hour,
    mean_per_hour_24h,
    window_end,
    load_errors.n as errors_in_latest_load,
    latest_load.ts as loaded_at
from totals, load_errors, latest_load
