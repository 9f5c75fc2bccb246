-- Data quality: rows of analytics.pg_stat_statements_deltas whose counter deltas are negative
-- (a reset or eviction the delta logic missed). Parameters: $project. value = number of bad rows.
select
    count(*) filter (where calls < 0 or total_exec_time_ms < 0 or rows < 0) as value,
    count(*) as rows_checked
from analytics.pg_stat_statements_deltas
where project = $project
