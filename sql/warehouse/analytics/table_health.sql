-- Table health per snapshot. Parameters: $project, $autovacuum_vacuum_threshold,
-- $autovacuum_vacuum_scale_factor, $autovacuum_analyze_threshold, $autovacuum_analyze_scale_factor.
-- Autovacuum is due when n_dead_tup > threshold + scale_factor * reltuples, with the server's
-- settings (latest raw.server_settings; the parameters are fallbacks) overridden by the table's
-- own reloptions, exactly as autovacuum decides. reltuples = -1 (never analyzed) counts as 0.
with settings as (
    select name, arg_max(setting, snapshot_at) as setting
    from raw.server_settings
    where project = $project
    group by name
),
server as (
    select
        coalesce(max(try_cast(setting as double)) filter (where name = 'autovacuum_vacuum_threshold'), $autovacuum_vacuum_threshold) as vac_threshold,
        coalesce(max(try_cast(setting as double)) filter (where name = 'autovacuum_vacuum_scale_factor'), $autovacuum_vacuum_scale_factor) as vac_scale,
        coalesce(max(try_cast(setting as double)) filter (where name = 'autovacuum_analyze_threshold'), $autovacuum_analyze_threshold) as an_threshold,
        coalesce(max(try_cast(setting as double)) filter (where name = 'autovacuum_analyze_scale_factor'), $autovacuum_analyze_scale_factor) as an_scale,
        coalesce(max(setting) filter (where name = 'autovacuum'), 'on') <> 'off' as autovacuum_on
    from settings
),
t as (
    select ts.*,
           greatest(coalesce(ts.reltuples, 0), 0) as tuples_for_threshold,
           coalesce(analytics.reloption(ts.reloptions, 'autovacuum_vacuum_threshold'), server.vac_threshold) as vac_threshold,
           coalesce(analytics.reloption(ts.reloptions, 'autovacuum_vacuum_scale_factor'), server.vac_scale) as vac_scale,
           coalesce(analytics.reloption(ts.reloptions, 'autovacuum_analyze_threshold'), server.an_threshold) as an_threshold,
           coalesce(analytics.reloption(ts.reloptions, 'autovacuum_analyze_scale_factor'), server.an_scale) as an_scale,
           server.autovacuum_on
               and coalesce(lower(list_filter(coalesce(ts.reloptions, []::varchar[]),
                                              lambda x: lower(x) like 'autovacuum_enabled=%')[1]),
                            'autovacuum_enabled=true')
                   not in ('autovacuum_enabled=false', 'autovacuum_enabled=off', 'autovacuum_enabled=0')
               as autovacuum_enabled,
           lag(ts.total_bytes) over w as prev_total_bytes,
           lag(ts.seq_scan) over w as prev_seq_scan,
           lag(ts.idx_scan) over w as prev_idx_scan,
           lag(ts.relid) over w as prev_relid,
           lag(ts.snapshot_at) over w as prev_snapshot_at
    from raw.table_stats ts, server
    where ts.project = $project
    window w as (partition by ts.schemaname, ts.relname order by ts.snapshot_at)
)
select $project as project,
       snapshot_at, schemaname, relname,
       case when reltuples >= 0 then reltuples else n_live_tup end as estimated_rows,
       n_live_tup, n_dead_tup,
       n_dead_tup::double / nullif(n_live_tup + n_dead_tup, 0) as dead_tuple_ratio,
       table_bytes, indexes_bytes, total_bytes,
       total_bytes - prev_total_bytes as total_bytes_growth,
       (total_bytes - prev_total_bytes) / nullif(epoch(snapshot_at) - epoch(prev_snapshot_at), 0) * 86400
           as growth_bytes_per_day,
       autovacuum_enabled,
       vac_threshold + vac_scale * tuples_for_threshold as vacuum_threshold_tuples,
       coalesce(n_dead_tup > vac_threshold + vac_scale * tuples_for_threshold, false) as vacuum_due,
       an_threshold + an_scale * tuples_for_threshold as analyze_threshold_tuples,
       coalesce(n_mod_since_analyze > an_threshold + an_scale * tuples_for_threshold, false) as analyze_due,
       greatest(last_vacuum, last_autovacuum) as last_vacuum,
       greatest(last_analyze, last_autoanalyze) as last_analyze,
       seq_scan, idx_scan,
       seq_scan::double / nullif(seq_scan + coalesce(idx_scan, 0), 0) as seq_scan_ratio,
       -- scans since the previous snapshot; NULL when there is none, after a reset (a counter went
       -- down) or when the table was re-created (another relid)
       case when prev_relid = relid and seq_scan >= prev_seq_scan
                 and coalesce(idx_scan, 0) >= coalesce(prev_idx_scan, 0)
            then seq_scan - prev_seq_scan end as seq_scan_delta,
       case when prev_relid = relid and seq_scan >= prev_seq_scan
                 and coalesce(idx_scan, 0) >= coalesce(prev_idx_scan, 0)
            then coalesce(idx_scan, 0) - coalesce(prev_idx_scan, 0) end as idx_scan_delta,
       has_primary_key,
       relfrozenxid_age as xid_age
from t
