-- Verified impact of new indexes: for each index that appeared in the index snapshots after the
-- project's first one (built by `aimatrix-pipeline apply` or by anyone), the statements it was meant
-- to help, with their mean time before and after it, and the index's scans.
-- Parameters: $project, $impact_window_hours.
--
-- When it was built: an `apply` attempt that created it (ops.applied_recommendations) gives the
-- exact time; otherwise it appeared between two index snapshots (prev_snapshot_at, first seen].
-- Which statements: fingerprints whose captured plans use the index (uses_index), else whose plans
-- scan its table (scans_its_table), else whose literal-free text names its table (names_its_table).
-- Plans name relations and indexes bare unless EXPLAIN gave their schema: both forms match.
-- before: deltas whose interval ended by the build's start, within $impact_window_hours;
-- after:  deltas whose interval started after the build finished, within $impact_window_hours.
-- status: measuring (no window after it yet) | no_baseline (no calls before) | saved (mean time
-- went down) | not_saved | no_statement (nothing to measure).
with snaps as (
    select snapshot_at, lag(snapshot_at) over (order by snapshot_at) as prev_snapshot_at
    from (select distinct snapshot_at from raw.index_stats where project = $project)
),
seen as (
    select schemaname, relname, indexrelname, indexrelid,
           min(snapshot_at) as first_seen_at,
           max(snapshot_at) as last_seen_at,
           arg_max(idx_scan, snapshot_at) as index_scans
    from raw.index_stats
    where project = $project and coalesce(is_valid, true)
    group by schemaname, relname, indexrelname, indexrelid
),
new_idx as (
    select s.*, sn.prev_snapshot_at
    from seen s
    join snaps sn on sn.snapshot_at = s.first_seen_at
    where sn.prev_snapshot_at is not null
),
applied as (
    select a.id as applied_id, a.recommendation_id, a.started_at, a.finished_at, a.object_schema,
           json_keys(a.verification) as touched
    from ops.applied_recommendations a
    where a.project = $project and a.result = 'succeeded' and a.statement_kind like '%create_index%'
),
built as (
    select n.*,
           (select arg_max(p.applied_id, p.finished_at) from applied p
            where list_contains(p.touched, n.indexrelname)
              and p.finished_at <= n.first_seen_at and p.finished_at > n.prev_snapshot_at) as applied_id
    from new_idx n
),
timed as (
    select b.*,
           p.recommendation_id,
           case when p.applied_id is not null then 'apply' else 'other' end as created_by,
           coalesce(p.started_at, b.prev_snapshot_at) as before_end,
           coalesce(p.finished_at, b.first_seen_at) as after_start
    from built b
    left join applied p on p.applied_id = b.applied_id
),
plans as (
    select coalesce(fingerprint, 'queryid:' || queryid) as fingerprint, relations, indexes
    from raw.query_plans
    where project = $project and status = 'ok'
),
deltas as (
    select coalesce(fingerprint, 'queryid:' || queryid) as fingerprint, query_preview,
           snapshot_at, prev_snapshot_at, calls, total_time_ms
    from analytics.pg_stat_statements_deltas
    where project = $project
),
texts as (
    select fingerprint, query_preview,
           regexp_split_to_array(lower(coalesce(query_preview, '')), '[^a-z0-9_$]+') as words
    from (select fingerprint, min(query_preview) as query_preview from deltas group by fingerprint)
),
targets as (
    select t.indexrelid, t.indexrelname, p.fingerprint,
           min(case when list_has_any(p.indexes, [t.indexrelname, t.schemaname || '.' || t.indexrelname]) then 1
                    else 2 end) as why
    from timed t
    join plans p on list_has_any(p.indexes, [t.indexrelname, t.schemaname || '.' || t.indexrelname])
                 or list_has_any(p.relations, [t.relname, t.schemaname || '.' || t.relname])
    group by all
    union all
    select t.indexrelid, t.indexrelname, x.fingerprint, 3
    from timed t
    join texts x on list_contains(x.words, lower(t.relname))
    where not exists (select 1 from plans p where list_has_any(p.relations, [t.relname, t.schemaname || '.' || t.relname]))
),
target as (
    select indexrelid, indexrelname, fingerprint, min(why) as why from targets group by all
),
measured as (
    select t.indexrelid, t.indexrelname, g.fingerprint, g.why,
           sum(d.calls) filter (where d.snapshot_at <= t.before_end
                                  and d.snapshot_at > t.before_end - to_microseconds(cast($impact_window_hours * 3600000000 as bigint))) as calls_before,
           sum(d.total_time_ms) filter (where d.snapshot_at <= t.before_end
                                  and d.snapshot_at > t.before_end - to_microseconds(cast($impact_window_hours * 3600000000 as bigint))) as time_before,
           sum(d.calls) filter (where d.prev_snapshot_at >= t.after_start
                                  and d.snapshot_at <= t.after_start + to_microseconds(cast($impact_window_hours * 3600000000 as bigint))) as calls_after,
           sum(d.total_time_ms) filter (where d.prev_snapshot_at >= t.after_start
                                  and d.snapshot_at <= t.after_start + to_microseconds(cast($impact_window_hours * 3600000000 as bigint))) as time_after,
           count(distinct d.snapshot_at) filter (where d.prev_snapshot_at >= t.after_start
                                  and d.snapshot_at <= t.after_start + to_microseconds(cast($impact_window_hours * 3600000000 as bigint))) as windows_after
    from timed t
    join target g on g.indexrelid = t.indexrelid and g.indexrelname = t.indexrelname
    left join deltas d on d.fingerprint = g.fingerprint
    group by all
),
rows as (
    select t.*, m.fingerprint, m.why, m.calls_before, m.calls_after, m.windows_after,
           m.time_before / nullif(m.calls_before, 0) as mean_before,
           m.time_after / nullif(m.calls_after, 0) as mean_after
    from timed t
    left join measured m on m.indexrelid = t.indexrelid and m.indexrelname = t.indexrelname
)
select $project as project,
       r.schemaname, r.relname, r.indexrelname, r.indexrelid,
       r.after_start as created_at,
       r.first_seen_at,
       r.created_by,
       r.applied_id,
       r.recommendation_id,
       r.fingerprint,
       x.query_preview,
       case r.why when 1 then 'uses_index' when 2 then 'scans_its_table' when 3 then 'names_its_table' end as reason,
       r.calls_before,
       r.mean_before as mean_time_ms_before,
       r.calls_after,
       r.mean_after as mean_time_ms_after,
       r.mean_before - r.mean_after as saving_ms_per_call,
       1 - r.mean_after / nullif(r.mean_before, 0) as saving_ratio,
       (r.mean_before - r.mean_after) * r.calls_after as saved_ms,
       coalesce(r.windows_after, 0) as windows_after,
       r.index_scans,
       case when r.fingerprint is null then 'no_statement'
            when coalesce(r.calls_after, 0) = 0 then 'measuring'
            when coalesce(r.calls_before, 0) = 0 then 'no_baseline'
            when r.mean_after < r.mean_before then 'saved'
            else 'not_saved' end as status
from rows r
left join texts x on x.fingerprint = r.fingerprint
