-- Statements pg_stat_statements evicted in the project's newest snapshot interval because
-- pg_stat_statements.max was full (pg_stat_statements_info.dealloc, reset-aware:
-- analytics.pg_stat_statements_intervals). An evicted statement's counters are lost: its calls
-- in that interval are missing from every delta, so the slow-query figures under-count.
-- Parameters: $project. NULL (no data) for a baseline or restart interval.
select
    dealloc_delta as value,
    statements_count,
    statements_max,
    interval_kind,
    snapshot_at
from analytics.pg_stat_statements_intervals
where project = $project
order by snapshot_at desc
limit 1
