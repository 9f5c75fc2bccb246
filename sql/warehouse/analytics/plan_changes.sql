-- Plan changes of one project: every capture whose plan hash differs from the same fingerprint's
-- previous successful capture, with the statement's mean time before and after, from the deltas.
-- Parameters: $project, $impact_window_hours.
--
-- The plan changed somewhere between the two captures (prev_captured_at, changed_at]; the deltas
-- of that span may mix both plans, so they count on neither side:
--   before: deltas whose interval ended by prev_captured_at (and after the fingerprint's previous
--           change), at most $impact_window_hours before it;
--   after:  deltas whose interval ended after changed_at (and by the fingerprint's next change),
--           at most $impact_window_hours after it.
with plans as (
    select fingerprint, captured_at, plan_hash, total_cost, indexes, relations,
           arg_max(query_preview, captured_at) over (partition by fingerprint) as query_preview
    from raw.query_plans
    where project = $project and status = 'ok' and plan_hash is not null
),
seq as (
    select *,
           lag(plan_hash) over w as prev_hash,
           lag(captured_at) over w as prev_captured_at,
           lag(total_cost) over w as prev_cost,
           lag(indexes) over w as prev_indexes
    from plans
    window w as (partition by fingerprint order by captured_at)
),
changes as (
    select *,
           lag(captured_at) over (partition by fingerprint order by captured_at) as prev_change_at,
           lead(prev_captured_at) over (partition by fingerprint order by captured_at) as next_change_from
    from seq
    where prev_hash is not null and prev_hash <> plan_hash
),
deltas as (
    select coalesce(fingerprint, 'queryid:' || queryid) as fingerprint, snapshot_at, calls, total_time_ms
    from analytics.pg_stat_statements_deltas
    where project = $project
),
measured as (
    select c.fingerprint, c.captured_at,
           sum(d.calls) filter (where d.snapshot_at <= c.prev_captured_at
                                  and d.snapshot_at > c.prev_captured_at - to_microseconds(cast($impact_window_hours * 3600000000 as bigint))
                                  and (c.prev_change_at is null or d.snapshot_at > c.prev_change_at)) as calls_before,
           sum(d.total_time_ms) filter (where d.snapshot_at <= c.prev_captured_at
                                  and d.snapshot_at > c.prev_captured_at - to_microseconds(cast($impact_window_hours * 3600000000 as bigint))
                                  and (c.prev_change_at is null or d.snapshot_at > c.prev_change_at)) as time_before,
           sum(d.calls) filter (where d.snapshot_at > c.captured_at
                                  and d.snapshot_at <= c.captured_at + to_microseconds(cast($impact_window_hours * 3600000000 as bigint))
                                  and (c.next_change_from is null or d.snapshot_at <= c.next_change_from)) as calls_after,
           sum(d.total_time_ms) filter (where d.snapshot_at > c.captured_at
                                  and d.snapshot_at <= c.captured_at + to_microseconds(cast($impact_window_hours * 3600000000 as bigint))
                                  and (c.next_change_from is null or d.snapshot_at <= c.next_change_from)) as time_after
    from changes c
    left join deltas d on d.fingerprint = c.fingerprint
    group by c.fingerprint, c.captured_at
)
select $project as project,
       c.fingerprint,
       c.query_preview,
       c.captured_at as changed_at,
       c.prev_captured_at,
       c.prev_hash as plan_hash_before,
       c.plan_hash as plan_hash_after,
       c.prev_cost as total_cost_before,
       c.total_cost as total_cost_after,
       coalesce(c.prev_indexes, []) as indexes_before,
       coalesce(c.indexes, []) as indexes_after,
       list_filter(coalesce(c.indexes, []), lambda x: not list_contains(coalesce(c.prev_indexes, []), x)) as indexes_added,
       list_filter(coalesce(c.prev_indexes, []), lambda x: not list_contains(coalesce(c.indexes, []), x)) as indexes_removed,
       m.calls_before,
       m.time_before / nullif(m.calls_before, 0) as mean_time_ms_before,
       m.calls_after,
       m.time_after / nullif(m.calls_after, 0) as mean_time_ms_after,
       (m.time_after / nullif(m.calls_after, 0)) / nullif(m.time_before / nullif(m.calls_before, 0), 0) as mean_time_ratio
from changes c
join measured m on m.fingerprint = c.fingerprint and m.captured_at = c.captured_at
