-- Interval deltas of pg_stat_statements, per statement key (dbid, userid, queryid, toplevel).
-- Parameters: $project. Reads analytics.pg_stat_statements_intervals (written first, same run).
--
-- The previous value of a statement is its row in the immediately previous snapshot (not its
-- last appearance: an evicted statement that comes back restarted from zero). delta_kind:
--   normal         current - previous.
--   new_statement  absent from the previous snapshot and (when stats_since is known) created after
--                  it: everything it counted happened in the interval, delta = current. Without
--                  stats_since (PG < 17), a statement of a (dbid, userid) that the previous
--                  snapshot read without keys (no pg_read_all_stats then) may have been there,
--                  hidden: its history is unknown, no delta.
--   counter_reset  a counter went down (eviction and return, or a partial reset): delta = current.
--   stats_since    PG 17+: stats_since newer than in the previous row: delta = current.
--   stats_reset    the whole interval follows a full reset: delta = current.
-- Not emitted: baseline and restart intervals, statements whose history before the previous
-- snapshot is unknown (absent from it but created earlier), and rows with calls = 0.
with iv as (
    select snapshot_at, prev_snapshot_at, interval_kind, dealloc_delta
    from analytics.pg_stat_statements_intervals
    where project = $project and interval_kind in ('normal', 'stats_reset')
),
monitored as (
    -- the monitored database of each snapshot (NULL = keep every dbid the extract kept)
    select snapshot_at, max(dbid) as dbid
    from raw.pg_stat_statements_info
    where project = $project
    group by snapshot_at
),
stmts as (
    -- rows without their key are left out: a monitoring role without pg_read_all_stats sees other
    -- roles' statements with queryid NULL, which cannot be paired with an earlier snapshot (each
    -- would count its whole history as one interval); rule pg_stat_statements_keys_present
    -- reports them from raw.pg_stat_statements_snapshots, which keeps them
    select s.*
    from raw.pg_stat_statements_snapshots s
    left join monitored m using (snapshot_at)
    where s.project = $project and (m.dbid is null or s.dbid = m.dbid)
      and s.queryid is not null and s.userid is not null and s.dbid is not null
),
hidden as (
    -- (snapshot, dbid, userid) that had rows read without their key
    select distinct snapshot_at, dbid, userid
    from raw.pg_stat_statements_snapshots
    where project = $project and queryid is null
),
texts as (
    select dbid, queryid,
           arg_max(fingerprint, last_seen) as fingerprint,
           arg_max(query_preview, last_seen) as query_preview
    from raw.pg_stat_statements_queries
    where project = $project
    group by dbid, queryid
),
paired as (
    select c.*,
           iv.prev_snapshot_at, iv.interval_kind, iv.dealloc_delta,
           p.queryid is not null as had_previous,
           p.calls as p_calls, p.plans as p_plans, p.rows as p_rows,
           p.total_exec_time as p_total_exec_time, p.total_plan_time as p_total_plan_time,
           p.max_exec_time as p_max_exec_time,
           p.shared_blks_hit as p_shared_blks_hit, p.shared_blks_read as p_shared_blks_read,
           p.shared_blks_dirtied as p_shared_blks_dirtied, p.shared_blks_written as p_shared_blks_written,
           p.temp_blks_read as p_temp_blks_read, p.temp_blks_written as p_temp_blks_written,
           p.shared_blk_read_time as p_shared_blk_read_time, p.shared_blk_write_time as p_shared_blk_write_time,
           p.wal_bytes as p_wal_bytes,
           p.stats_since as p_stats_since,
           h.snapshot_at is not null as hidden_before
    from stmts c
    join iv on c.snapshot_at = iv.snapshot_at
    left join stmts p
        on p.snapshot_at = iv.prev_snapshot_at
       and p.dbid = c.dbid and p.userid = c.userid and p.queryid = c.queryid
       and p.toplevel is not distinct from c.toplevel
    left join hidden h
        on h.snapshot_at = iv.prev_snapshot_at and h.dbid = c.dbid and h.userid = c.userid
),
classified as (
    select *,
           case
               when interval_kind = 'stats_reset' then 'stats_reset'
               when not had_previous and stats_since > prev_snapshot_at then 'new_statement'
               when not had_previous and stats_since is null and not hidden_before then 'new_statement'
               when not had_previous then null
               when stats_since > p_stats_since then 'stats_since'
               when coalesce(calls < p_calls, false)
                 or coalesce(total_exec_time < p_total_exec_time, false)
                 or coalesce(plans < p_plans, false)
                 or coalesce(total_plan_time < p_total_plan_time, false)
                 or coalesce(rows < p_rows, false)
                 or coalesce(shared_blks_hit < p_shared_blks_hit, false)
                 or coalesce(shared_blks_read < p_shared_blks_read, false)
                 or coalesce(shared_blks_dirtied < p_shared_blks_dirtied, false)
                 or coalesce(shared_blks_written < p_shared_blks_written, false)
                 or coalesce(temp_blks_read < p_temp_blks_read, false)
                 or coalesce(temp_blks_written < p_temp_blks_written, false)
                 or coalesce(shared_blk_read_time < p_shared_blk_read_time, false)
                 or coalesce(shared_blk_write_time < p_shared_blk_write_time, false)
                 or coalesce(wal_bytes < p_wal_bytes, false)
                   then 'counter_reset'
               else 'normal'
           end as delta_kind
    from paired
),
deltas as (
    select *,
           delta_kind <> 'normal' as restarted,
           analytics.counter_delta(calls, p_calls, delta_kind <> 'normal') as d_calls,
           analytics.counter_delta(coalesce(plans, 0), coalesce(p_plans, 0), delta_kind <> 'normal') as d_plans,
           analytics.counter_delta(coalesce(total_exec_time, 0), coalesce(p_total_exec_time, 0), delta_kind <> 'normal') as d_exec,
           analytics.counter_delta(coalesce(total_plan_time, 0), coalesce(p_total_plan_time, 0), delta_kind <> 'normal') as d_plan
    from classified
    where delta_kind is not null
)
select $project as project,
       d.snapshot_at,
       d.prev_snapshot_at,
       epoch(d.snapshot_at) - epoch(d.prev_snapshot_at) as interval_seconds,
       d.dbid, d.userid, d.queryid, d.toplevel,
       t.fingerprint,
       t.query_preview,
       d.delta_kind,
       d.d_calls as calls,
       d.d_plans as plans,
       d.d_exec as total_exec_time_ms,
       d.d_plan as total_plan_time_ms,
       d.d_exec + d.d_plan as total_time_ms,
       (d.d_exec + d.d_plan) / d.d_calls as mean_time_ms,
       case
           when d.restarted then d.max_exec_time
           when d.max_exec_time > d.p_max_exec_time then d.max_exec_time
       end as interval_max_exec_time_ms,
       analytics.counter_delta(d.rows, d.p_rows, d.restarted) as rows,
       analytics.counter_delta(d.shared_blks_hit, d.p_shared_blks_hit, d.restarted) as shared_blks_hit,
       analytics.counter_delta(d.shared_blks_read, d.p_shared_blks_read, d.restarted) as shared_blks_read,
       analytics.counter_delta(d.shared_blks_dirtied, d.p_shared_blks_dirtied, d.restarted) as shared_blks_dirtied,
       analytics.counter_delta(d.shared_blks_written, d.p_shared_blks_written, d.restarted) as shared_blks_written,
       analytics.counter_delta(d.temp_blks_read, d.p_temp_blks_read, d.restarted) as temp_blks_read,
       analytics.counter_delta(d.temp_blks_written, d.p_temp_blks_written, d.restarted) as temp_blks_written,
       analytics.counter_delta(d.shared_blk_read_time, d.p_shared_blk_read_time, d.restarted) as shared_blk_read_time_ms,
       analytics.counter_delta(d.shared_blk_write_time, d.p_shared_blk_write_time, d.restarted) as shared_blk_write_time_ms,
       analytics.counter_delta(d.wal_bytes, d.p_wal_bytes, d.restarted) as wal_bytes,
       d.dealloc_delta
from deltas d
left join texts t on t.dbid = d.dbid and t.queryid = d.queryid
where d.d_calls > 0
