-- Application error spike from analytics.error_stats: errors in the 1 h window divided by the
-- mean hourly count of the 24 h window ending at the same time. 1.0 = normal; NULL without
-- errors in the 24 h window. Parameters: $project.
with latest as (
    select max(window_end) as ts from analytics.error_stats where project = $project
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
    coalesce(last_hour, 0) / nullif(mean_per_hour_24h, 0) as value,
    coalesce(last_hour, 0) as errors_last_hour,
    mean_per_hour_24h,
    window_end
from totals
