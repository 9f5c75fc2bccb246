-- Application error spike: errors in the newest hour divided by the mean hourly count over the
-- 24 hours before it (raw.error_events). 1.0 = normal; NULL without a baseline.
-- Parameters: $project.
with latest as (
    select max(created_at) as at from raw.error_events where project = $project
),
counts as (
    select
        count(*) filter (where e.created_at > latest.at - interval 1 hour) as last_hour,
        count(*) filter (where e.created_at <= latest.at - interval 1 hour
                          and e.created_at > latest.at - interval 25 hour) / 24.0 as baseline_per_hour
    from raw.error_events e, latest
    where e.project = $project
)
select
    last_hour / nullif(baseline_per_hour, 0) as value,
    last_hour as errors_last_hour,
    baseline_per_hour
from counts
