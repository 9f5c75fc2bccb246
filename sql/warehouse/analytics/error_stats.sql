-- Error statistics from raw.error_events over three windows ending at $as_of (1 h, 24 h and
-- 7 d): the total, counts by type (error name) and by severity, the rate in
-- errors per second of the window, and a rank (top errors = dimension 'type', rank <= 10).
-- Parameters: $project, $as_of.
with windows(time_window, seconds) as (
    values ('1h', 3600), ('24h', 86400), ('7d', 604800)
),
ev as (
    select w.time_window, w.seconds, coalesce(e.name, 'unknown') as name,
           coalesce(e.severity, 'unknown') as severity
    from raw.error_events e
    join windows w
      on e.created_at > $as_of - to_seconds(cast(w.seconds as bigint)) and e.created_at <= $as_of
    where e.project = $project
),
counts as (
    -- the total exists for every window, zero included
    select w.time_window, w.seconds, 'total' as dimension, cast(null as varchar) as key,
           count(ev.time_window) as error_count
    from windows w left join ev using (time_window)
    group by w.time_window, w.seconds
    union all
    select time_window, any_value(seconds), 'type', name, count(*) from ev group by time_window, name
    union all
    select time_window, any_value(seconds), 'severity', severity, count(*) from ev group by time_window, severity
)
select $project as project,
       time_window,
       $as_of as window_end,
       dimension,
       key,
       error_count,
       error_count / seconds as errors_per_second,
       cast(row_number() over (partition by time_window, dimension order by error_count desc, key) as integer) as rank
from counts
