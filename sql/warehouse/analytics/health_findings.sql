-- Schema and server health findings for one project: sequence exhaustion judged against the
-- column type a sequence feeds, NOT VALID constraints, replication slots holding back WAL. Same
-- columns as the other findings; optimization_recommendations.sql adds the id and first_seen.
-- Parameters: $project, $sequence_usage_max, $replication_slot_max_retained_bytes,
-- $bloat_min_bytes, $bloat_min_ratio. Also table and index bloat estimates.
-- Each rule reads the latest snapshot of its asset as recorded in raw.snapshot_runs, so a
-- snapshot that found nothing (the last constraint validated, the slot dropped) clears it.
with
managed(schemaname) as (
    values ('auth'), ('storage'), ('extensions'), ('realtime'), ('_realtime'), ('supabase_functions'),
           ('supabase_migrations'), ('pgsodium'), ('pgsodium_masks'), ('vault'), ('graphql'),
           ('graphql_public'), ('net'), ('cron'), ('pgbouncer'), ('_analytics'), ('pg_catalog'),
           ('information_schema'), ('pg_toast'), ('pgmq'), ('topology'), ('tiger')
),
latest as (
    select name, max(snapshot_at) as snap_at from raw.snapshot_runs where project = $project group by name
),
seqs as (
    select *, least(max_value, coalesce(column_max_value, max_value)) as limit_value,
           coalesce(column_max_value, max_value) < max_value as column_limits,
           -- the column is int2/int4: widening only the sequence would leave this limit in place
           coalesce(column_max_value < 9223372036854775807, false) as column_narrow
    from raw.sequences
    where project = $project
      and snapshot_at = (select snap_at from latest where name = 'sequences')
      and schemaname not in (select schemaname from managed)
      and increment_by > 0 and not coalesce(cycle, false) and last_value is not null
),
nv as (
    select * from raw.not_valid_constraints
    where project = $project
      and snapshot_at = (select snap_at from latest where name = 'not_valid_constraints')
      and schemaname not in (select schemaname from managed)
),
bloat as (
    select *, (relpages - expected_pages) * block_size as wasted_bytes,
           relpages::double / nullif(expected_pages, 0) as ratio
    from raw.bloat
    where project = $project
      and snapshot_at = (select snap_at from latest where name = 'bloat')
      and schemaname not in (select schemaname from managed)
),
slots as (
    select * from raw.replication_slots
    where project = $project
      and snapshot_at = (select snap_at from latest where name = 'replication_slots')
      and not coalesce(temporary, false)
),

-- sequence_exhaustion: last_value past $sequence_usage_max of the smaller of the sequence's
-- maximum and the maximum of the column type it feeds (a bigint sequence feeding an integer
-- column fails at 2^31 - 1). One finding per sequence. The remediation widens every part that is
-- narrower than bigint, so the finding does not come back once the SQL ran: the column (ALTER
-- TABLE ... ALTER COLUMN ... TYPE bigint: rewrites the table and rebuilds its indexes under an
-- ACCESS EXCLUSIVE lock, stated in the SQL and the detail) whenever it is int2/int4, also when the
-- sequence is just as narrow (a serial: widening only the sequence moves the limit to the column),
-- and the sequence (AS bigint, instant; NO MAXVALUE for a bigint one with a lower maximum).
-- impact = 10 x usage; effort 6 when the column must change, else 1.
f_seq_exhaustion as (
    select 'sequence_exhaustion' as name, 'schema' as category,
           case when last_value::double / limit_value >= 0.98 then 'critical' else 'warning' end as level,
           'Sequence ' || schemaname || '.' || sequencename || ' near its limit' as title,
           'Sequence ' || schemaname || '.' || sequencename || ' (' || data_type || ') is at ' || last_value || ' of '
               || limit_value || ' (' || round(100 * last_value::double / limit_value, 1) || ' %)'
               || case when column_limits
                       then ': the limit is column ' || column_schema || '.' || column_table || '.' || column_name
                            || ' (' || column_type || '), not the sequence''s own maximum ' || max_value || '.'
                       else '.' end
               || ' Inserts fail once it is reached.'
               || case when column_narrow
                       then ' Column ' || column_schema || '.' || column_table || '.' || column_name || ' (' || column_type
                            || ') must become bigint too: ALTER COLUMN ... TYPE bigint rewrites the table and rebuilds'
                            || ' its indexes under an ACCESS EXCLUSIVE lock (reads and writes wait until it ends).'
                       else '' end as detail,
           concat_ws(chr(10),
               case when column_narrow
                    then '-- rewrites the table and rebuilds its indexes under an ACCESS EXCLUSIVE lock (reads and'
                         || chr(10) || '-- writes wait until it ends; time grows with the table): plan a maintenance window'
                         || chr(10) || 'ALTER TABLE ' || analytics.qi(column_schema) || '.' || analytics.qi(column_table)
                         || ' ALTER COLUMN ' || analytics.qi(column_name) || ' TYPE bigint;' end,
               case when data_type <> 'bigint'
                    then 'ALTER SEQUENCE ' || analytics.qi(schemaname) || '.' || analytics.qi(sequencename) || ' AS bigint;'
                    when not column_narrow
                    then 'ALTER SEQUENCE ' || analytics.qi(schemaname) || '.' || analytics.qi(sequencename) || ' NO MAXVALUE;' end
           ) as remediation_sql,
           analytics.score(10 * last_value::double / limit_value) as impact,
           case when column_narrow then 6 else 1 end as effort,
           schemaname as object_schema, sequencename as object_name, schemaname || '.' || sequencename as object_key,
           json_object('last_value', last_value, 'limit', limit_value, 'sequence_max', max_value,
                       'data_type', data_type, 'column_type', column_type, 'column_limits', column_limits,
                       'column_rewrite', column_narrow,
                       'usage', last_value::double / limit_value) as metadata
    from seqs
    where last_value::double / limit_value > $sequence_usage_max
),

-- not_valid_constraint: a constraint added NOT VALID and never validated (PgHero's invalid
-- constraints): existing rows are unchecked and the planner cannot use it. VALIDATE scans the
-- table under a SHARE UPDATE EXCLUSIVE lock (reads and writes go on). impact 4; effort 2.
f_not_valid as (
    select 'not_valid_constraint', 'schema', 'warning',
           'Constraint ' || constraint_name || ' on ' || schemaname || '.' || relname || ' is NOT VALID',
           'The ' || constraint_type || ' constraint ' || constraint_name || ' on ' || schemaname || '.' || relname
               || ' was added NOT VALID and never validated: rows that existed before it are not checked,'
               || ' and the planner cannot rely on it.',
           '-- checks existing rows; fails (changing nothing) if one violates it' || chr(10)
               || 'ALTER TABLE ' || analytics.qi(schemaname) || '.' || analytics.qi(relname)
               || ' VALIDATE CONSTRAINT ' || analytics.qi(constraint_name) || ';',
           4, 2,
           schemaname, relname, schemaname || '.' || relname || ':' || constraint_name,
           json_object('constraint', constraint_name, 'type', constraint_type, 'definition', definition,
                       'table_rows', table_rows)
    from nv
),

-- replication_slot_inactive: no consumer is connected and the slot holds back WAL (restart_lsn
-- set): the WAL piles up on disk until the slot is used or dropped (inspect db's
-- replication-slots). critical above $replication_slot_max_retained_bytes. impact 4 + log2(GB + 1).
-- replication_slot_retaining_wal: an active slot whose consumer lags by more than
-- $replication_slot_max_retained_bytes. effort 2 (drop) / 4 (find the lagging consumer).
f_slot_inactive as (
    select 'replication_slot_inactive', 'database',
           case when retained_bytes >= $replication_slot_max_retained_bytes or wal_status in ('lost', 'unreserved')
                then 'critical' else 'warning' end,
           'Inactive replication slot ' || slot_name,
           'Replication slot ' || slot_name || ' (' || slot_type || coalesce(', ' || plugin, '') || ') has no consumer '
               || 'connected and holds back ' || format_bytes(coalesce(retained_bytes, 0)) || ' of WAL (wal_status '
               || coalesce(wal_status, 'unknown') || '); it grows until the slot is used again or dropped.',
           '-- if nothing will consume it again (a removed replica, an abandoned subscription):' || chr(10)
               || 'SELECT pg_drop_replication_slot(' || analytics.ql(slot_name) || ');',
           analytics.score(4 + log2(coalesce(retained_bytes, 0) / 1073741824.0 + 1)), 2,
           database, slot_name, 'slot:' || slot_name,
           json_object('slot_type', slot_type, 'plugin', plugin, 'wal_status', wal_status,
                       'retained_bytes', retained_bytes, 'restart_lsn', restart_lsn)
    from slots
    where not active and restart_lsn is not null
),
f_slot_lag as (
    select 'replication_slot_retaining_wal', 'database',
           case when wal_status in ('unreserved', 'lost') then 'critical' else 'warning' end,
           'Replication slot ' || slot_name || ' retains ' || format_bytes(retained_bytes) || ' of WAL',
           'The consumer of replication slot ' || slot_name || ' is connected but ' || format_bytes(retained_bytes)
               || ' behind (wal_status ' || coalesce(wal_status, 'unknown') || '): the server keeps that WAL on disk.',
           '-- Find why the consumer lags (pg_stat_replication on this server, the subscriber''s logs):' || chr(10)
               || 'SELECT application_name, state, sent_lsn, replay_lsn, replay_lag FROM pg_catalog.pg_stat_replication;',
           analytics.score(4 + log2(retained_bytes / 1073741824.0 + 1)), 4,
           database, slot_name, 'slot:' || slot_name,
           json_object('slot_type', slot_type, 'plugin', plugin, 'wal_status', wal_status,
                       'retained_bytes', retained_bytes)
    from slots
    where active and retained_bytes >= $replication_slot_max_retained_bytes
),

-- table_bloat / index_bloat: estimated wasted bytes (raw.bloat) >= $bloat_min_bytes and pages
-- >= $bloat_min_ratio x the pages the rows need. An index is rebuilt online (REINDEX
-- CONCURRENTLY, PostgreSQL 12+); a table needs a rewrite: VACUUM FULL locks it for the whole
-- rewrite (pg_repack does it online where installed). impact = 1 + log2(wasted MB + 1);
-- effort 3 (index) / 6 (table).
f_bloat as (
    select kind || '_bloat', 'maintenance', 'warning',
           case when kind = 'index' then 'Index' else 'Table' end || ' bloat on ' || schemaname || '.' || coalesce(indexrelname, relname),
           case when kind = 'index' then 'Index ' || schemaname || '.' || indexrelname || ' on ' || relname
                else 'Table ' || schemaname || '.' || relname end
               || ' has ' || relpages || ' pages where its rows need about ' || expected_pages || ' (estimate, '
               || round(ratio, 1) || 'x): about ' || format_bytes(wasted_bytes) || ' wasted, read by every scan.',
           case when kind = 'index'
                then 'REINDEX INDEX CONCURRENTLY ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';'
                else '-- rewrites the table under an ACCESS EXCLUSIVE lock (reads and writes wait): use a maintenance window,'
                     || chr(10) || '-- or pg_repack where it is installed' || chr(10)
                     || 'VACUUM (FULL, ANALYZE) ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ';' end,
           analytics.score(1 + log2(wasted_bytes / 1048576.0 + 1)),
           case when kind = 'index' then 3 else 6 end,
           schemaname, coalesce(indexrelname, relname), schemaname || '.' || coalesce(indexrelname, relname),
           json_object('relpages', relpages, 'expected_pages', expected_pages, 'wasted_bytes', wasted_bytes,
                       'ratio', ratio, 'table', relname)
    from bloat
    where wasted_bytes >= $bloat_min_bytes and ratio >= $bloat_min_ratio
)

select * from f_seq_exhaustion
union all select * from f_bloat
union all select * from f_not_valid
union all select * from f_slot_inactive
union all select * from f_slot_lag
