-- One row per finding for one project, from the latest raw snapshots and the derived tables.
-- Parameters: $project, $as_of (this run: last_seen, and first_seen of new findings),
-- $compute_size, and the thresholds named below (aimatrix_pipeline/analytics/thresholds.py).
--
-- id = first 16 hex of md5(project|name|object_key): the same finding keeps its id, and its
-- first_seen is carried over from the previous rows of the project (read before they are
-- replaced). A finding that no longer fires is not emitted, so it drops out.
-- Scores (integers 1..10, `analytics.score` rounds and clamps) are documented per finding below
-- and in docs/advisors.md. Remediation SQL uses CONCURRENTLY and quoted identifiers;
-- where no DDL fits, it is a read-only diagnostic query or comment lines.
-- _security_findings and _health_findings are temporary tables derive_recommendations fills from
-- security_findings.sql and health_findings.sql (same columns, no id) just before this query runs.
-- Names come from the monitored database and are hostile data: they reach the SQL only through
-- analytics.qi / ql / comment_text, which never let a control character (a newline ends a `-- `
-- comment) through raw.
with
managed(schemaname) as (
    -- schemas Supabase manages: users cannot (and should not) change their tables
    values ('auth'), ('storage'), ('extensions'), ('realtime'), ('_realtime'), ('supabase_functions'),
           ('supabase_migrations'), ('pgsodium'), ('pgsodium_masks'), ('vault'), ('graphql'),
           ('graphql_public'), ('net'), ('cron'), ('pgbouncer'), ('_analytics'), ('pg_catalog'),
           ('information_schema'), ('pg_toast'), ('pgmq'), ('topology'), ('tiger')
),
idx as (
    select * from raw.index_stats
    where project = $project
      and snapshot_at = (select max(snapshot_at) from raw.index_stats where project = $project)
      and schemaname not in (select schemaname from managed)
),
idx_first as (
    select min(snapshot_at) as first_snapshot from raw.index_stats where project = $project
),
tbl as (
    select * from raw.table_stats
    where project = $project
      and snapshot_at = (select max(snapshot_at) from raw.table_stats where project = $project)
      and schemaname not in (select schemaname from managed)
),
th as (
    select * from analytics.table_health
    where project = $project
      and snapshot_at = (select max(snapshot_at) from analytics.table_health where project = $project)
      and schemaname not in (select schemaname from managed)
),
fk as (
    select * from raw.foreign_keys
    where project = $project
      and snapshot_at = (select max(snapshot_at) from raw.foreign_keys where project = $project)
      and schemaname not in (select schemaname from managed)
),
db as (
    select * from raw.database_stats
    where project = $project
      and snapshot_at = (select max(snapshot_at) from raw.database_stats where project = $project)
),
dbh as (
    select * from analytics.database_health
    where project = $project
      and snapshot_at = (select max(snapshot_at) from analytics.database_health where project = $project)
),
act as (
    select * from raw.activity
    where project = $project
      and snapshot_at = greatest(
          (select max(snapshot_at) from raw.snapshot_runs where project = $project and name = 'activity'),
          (select max(snapshot_at) from raw.activity where project = $project))
),
vec as (
    select * from analytics.vector_health
    where project = $project and column_name is not null
),
-- Schemas of the extensions whose objects remediation SQL names (pg_stat_statements, pgvector's
-- operator classes), so it runs under any search_path: '"extensions".' or '' when unknown.
ext as (
    select
        coalesce(analytics.qi(coalesce(
            (select arg_max(extension_schema, snapshot_at) from raw.pg_stat_statements_info
             where project = $project and extension_schema is not null),
            (select arg_max(schemaname, snapshot_at) from raw.extensions
             where project = $project and extname = 'pg_stat_statements'))) || '.', '') as pss,
        coalesce(analytics.qi(coalesce(
            (select arg_max(pgvector_schema, snapshot_at) from raw.vector_indexes
             where project = $project and pgvector_schema is not null),
            (select arg_max(schemaname, snapshot_at) from raw.extensions
             where project = $project and extname = 'vector'))) || '.', '') as vector
),

-- slow_query: mean >= $slow_query_ms over the summary window with >= $slow_query_min_calls calls.
-- impact = 0.6 * min(mean_ms / 100, 10) + 0.4 * 10 * share of the source's time (the
-- share term lifts a statement that takes much of the time); effort = 1 + 2 if JOIN + 3 if a
-- subquery + 1 if calls > 1000.
sq_groups as (
    select source, fingerprint, min(query_preview) as query_preview,
           sum(calls) as calls, sum(total_time_ms) as total_time_ms,
           sum(total_time_ms) / sum(calls) as mean_time_ms, max(max_time_ms) as max_time_ms,
           min(hour_bucket) as first_hour, max(hour_bucket) as last_hour
    from analytics.slow_queries_summary
    where project = $project
    group by source, fingerprint
),
sq as (
    select *,
           total_time_ms / nullif(sum(total_time_ms) over (partition by source), 0) as share,
           coalesce(query_preview, '') as qp,
           list_filter([
               case when mean_time_ms > 5000 then 'Split it into smaller queries (mean above 5 s)' end,
               case when regexp_matches(coalesce(query_preview, ''), 'select\s+\*', 'i') then 'Select only the columns you need' end,
               case when regexp_matches(coalesce(query_preview, ''), '\bjoin\b', 'i') then 'Index the JOIN columns' end,
               case when calls > 100 then 'Cache the results of this frequent query' end
           ], lambda a: a is not null) as actions
    from sq_groups
),
f_slow as (
    select 'slow_query' as name, 'query' as category,
           case when mean_time_ms > 5000 then 'critical' else 'warning' end as level,
           'Slow query (' || source || '): ' || left(qp, 80) as title,
           'Mean ' || round(mean_time_ms, 1) || ' ms over ' || calls || ' calls, max '
               || round(max_time_ms, 1) || ' ms, ' || round(100 * coalesce(share, 0), 1)
               || ' % of the ' || source || ' time between ' || first_hour || ' and ' || last_hour
               || '. Actions: ' || coalesce(nullif(array_to_string(actions, '; '), ''), 'inspect the plan') || '.' as detail,
           '-- ' || coalesce(nullif(array_to_string(actions, chr(10) || '-- '), ''), 'Inspect the plan')
               || chr(10) || '-- EXPLAIN (ANALYZE, BUFFERS) ' || analytics.comment_text(replace(qp, chr(10), ' ')) as remediation_sql,
           analytics.score(0.6 * least(mean_time_ms / 100, 10) + 4 * coalesce(share, 0)) as impact,
           analytics.score(1 + 2 * regexp_matches(qp, '\bjoin\b', 'i')::int
                             + 3 * regexp_matches(qp, '\(\s*select\b', 'i')::int
                             + (calls > 1000)::int) as effort,
           source as object_schema, fingerprint as object_name, source || ':' || fingerprint as object_key,
           json_object('calls', calls, 'mean_time_ms', mean_time_ms, 'total_time_ms', total_time_ms,
                       'max_time_ms', max_time_ms, 'share_of_total_time', share, 'actions', actions,
                       'query_preview', query_preview) as metadata
    from sq
    where mean_time_ms >= $slow_query_ms and calls >= $slow_query_min_calls
),

-- duplicate_index: same table and access method; exact (same definition but the name) or, for
-- btree without predicates or expressions, columns and operator classes a leading prefix of
-- another valid index. Never a primary key or a constraint's index; a unique index only when
-- its copy is unique too (it enforces the same thing), never as a prefix. impact as unused;
-- effort = 2. The name is stripped from the definition whether or not the server quoted it
-- ("Orders By Status", with "" for a quote inside).
idx_norm as (
    select *, regexp_replace(regexp_replace(indexdef, '^CREATE (UNIQUE )?INDEX ("([^"]|"")*"|[^\s"]+) ON ', 'CREATE INDEX ON '), '\s+', ' ', 'g') as def_norm
    from idx where coalesce(is_valid, true)
),
dup_pairs as (
    select a.*, b.indexrelid as covered_by_id, b.indexrelname as covered_by, b.indexdef as covered_by_def,
           a.def_norm = b.def_norm as exact
    from idx_norm a
    join idx_norm b
      on a.relid = b.relid and a.indexrelid <> b.indexrelid
     and coalesce(a.access_method, '') = coalesce(b.access_method, '')
    where not coalesce(a.is_primary, false) and not coalesce(a.backs_constraint, false)
      and (
        -- exact duplicate: drop one of the pair (the later name) unless the other is protected;
        -- a unique one only in favour of another unique one
        (a.def_norm = b.def_norm
            and (not coalesce(a.is_unique, false) or coalesce(b.is_unique, false))
            and ((a.indexrelname > b.indexrelname
                  and (coalesce(a.is_unique, false) or not coalesce(b.is_unique, false)))
                 or (coalesce(b.is_unique, false) and not coalesce(a.is_unique, false))
                 or coalesce(b.is_primary, false) or coalesce(b.backs_constraint, false)))
        or (a.def_norm <> b.def_norm and not coalesce(a.is_unique, false) and a.access_method = 'btree'
            and not coalesce(a.has_predicate, false) and not coalesce(b.has_predicate, false)
            and not coalesce(a.has_expressions, false) and not coalesce(b.has_expressions, false)
            and len(a.indkey) < len(b.indkey)
            and b.indkey[1:len(a.indkey)] = a.indkey
            and b.opclasses[1:len(a.opclasses)] = a.opclasses)
      )
),
dup as (
    select * from (
        select *, row_number() over (partition by indexrelid order by exact desc, covered_by) as rn
        from dup_pairs
    ) where rn = 1
),
-- Indexes gone since an earlier snapshot (dropped), with the first snapshot that missed them, and
-- the indexes that covered them (same definition, or the dropped one's columns a leading prefix):
-- while the dropped index existed the planner may have sent every scan to it, so its cover's
-- idx_scan = 0 says nothing. A cover is judged unused only after a full observation window
-- ($unused_index_warn_days) since the drop, counted from the drop (observed_since).
idx_hist as (
    select h.indexrelid, h.relid, h.access_method, h.indkey, h.opclasses, h.snapshot_at,
           regexp_replace(regexp_replace(h.indexdef, '^CREATE (UNIQUE )?INDEX ("([^"]|"")*"|[^\s"]+) ON ', 'CREATE INDEX ON '), '\s+', ' ', 'g') as def_norm
    from raw.index_stats h
    where h.project = $project and coalesce(h.is_valid, true)
      and h.schemaname not in (select schemaname from managed)
),
gone as (
    select g.*,
           (select min(s.snapshot_at) from raw.index_stats s
            where s.project = $project and s.snapshot_at > g.last_seen) as dropped_at
    from (
        select indexrelid, arg_max(relid, snapshot_at) as relid, arg_max(access_method, snapshot_at) as access_method,
               arg_max(indkey, snapshot_at) as indkey, arg_max(opclasses, snapshot_at) as opclasses,
               arg_max(def_norm, snapshot_at) as def_norm, max(snapshot_at) as last_seen
        from idx_hist group by indexrelid
    ) g
    where g.last_seen < (select max(snapshot_at) from idx) and g.indexrelid not in (select indexrelid from idx)
),
cover_since as (
    select c.indexrelid, max(g.dropped_at) as since
    from idx_norm c
    join gone g on g.relid = c.relid and coalesce(g.access_method, '') = coalesce(c.access_method, '')
     and (g.def_norm = c.def_norm
          or (len(g.indkey) < len(c.indkey) and c.indkey[1:len(g.indkey)] = g.indkey
              and c.opclasses[1:len(g.opclasses)] = g.opclasses))
    group by c.indexrelid
),
-- unused_index: idx_scan = 0, valid, not unique/primary/constraint, >= $unused_index_min_bytes.
-- impact = 1 + log2(size in MB + 1) (10 MB -> 4, 1 GB -> 10); effort = 2.
unused as (
    select i.*,
           greatest(coalesce(i.stats_reset, (select max(stats_reset) from db), (select first_snapshot from idx_first)),
                    cs.since) as observed_since
    from idx i
    left join cover_since cs on cs.indexrelid = i.indexrelid
    where (cs.since is null or epoch(i.snapshot_at) - epoch(cs.since) >= $unused_index_warn_days * 86400)
      and coalesce(i.idx_scan, 0) = 0 and coalesce(i.is_valid, true)
      and not coalesce(i.is_unique, false) and not coalesce(i.is_primary, false)
      and not coalesce(i.backs_constraint, false)
      and coalesce(i.index_bytes, 0) >= $unused_index_min_bytes
      -- a duplicate finding says "covered by" this index: dropping both would leave the column
      -- without an index, so it is kept (judge it again once the duplicate is gone)
      and i.indexrelid not in (select covered_by_id from dup)
),
f_unused as (
    select 'unused_index', 'index',
           case when epoch(snapshot_at) - epoch(observed_since) >= $unused_index_warn_days * 86400
                then 'warning' else 'info' end,
           'Unused index ' || schemaname || '.' || indexrelname,
           'Index ' || schemaname || '.' || indexrelname || ' on ' || relname || ' ('
               || format_bytes(index_bytes) || ') has not been scanned since ' || observed_since
               || ' (' || round((epoch(snapshot_at) - epoch(observed_since)) / 86400, 1)
               || ' days observed). It still costs every write and the space.',
           'DROP INDEX CONCURRENTLY IF EXISTS ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';',
           analytics.score(1 + log2(index_bytes / 1048576.0 + 1)),
           2,
           schemaname, indexrelname, schemaname || '.' || indexrelname,
           json_object('index_bytes', index_bytes, 'idx_scan', idx_scan, 'table', relname,
                       'observed_since', observed_since,
                       'observed_days', (epoch(snapshot_at) - epoch(observed_since)) / 86400)
    from unused
),

f_dup as (
    select 'duplicate_index', 'index', 'warning',
           'Duplicate index ' || schemaname || '.' || indexrelname,
           'Index ' || schemaname || '.' || indexrelname || ' (' || format_bytes(index_bytes) || ') is '
               || case when exact then 'an exact duplicate of ' else 'a leading prefix of ' end
               || covered_by || ' on ' || relname || ', which serves the same lookups.',
           'DROP INDEX CONCURRENTLY IF EXISTS ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';',
           analytics.score(1 + log2(coalesce(index_bytes, 0) / 1048576.0 + 1)),
           2,
           schemaname, indexrelname, schemaname || '.' || indexrelname,
           json_object('index_bytes', index_bytes, 'covered_by', covered_by, 'exact', exact,
                       'indexdef', indexdef, 'covered_by_def', covered_by_def)
    from dup
),

-- invalid_index: indisvalid = false and no backend is building it right now (a CREATE/REINDEX
-- naming it in the latest activity snapshot). impact = 5 (it is maintained but never used and
-- may enforce nothing); effort = 3.
f_invalid as (
    select 'invalid_index', 'index', 'warning',
           'Invalid index ' || schemaname || '.' || indexrelname,
           'Index ' || schemaname || '.' || indexrelname || ' on ' || relname
               || ' is invalid (a failed CREATE INDEX CONCURRENTLY or REINDEX): writes maintain it, queries never use it'
               || case when is_unique then ', and it does not enforce uniqueness.' else '.' end,
           'DROP INDEX CONCURRENTLY IF EXISTS ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';'
               || chr(10) || '-- then recreate it (fix the cause first, e.g. duplicate keys):' || chr(10) || '-- '
               || analytics.comment_text(regexp_replace(coalesce(indexdef, ''), '^CREATE (UNIQUE )?INDEX ', 'CREATE \1INDEX CONCURRENTLY ')) || ';',
           5, 3,
           schemaname, indexrelname, schemaname || '.' || indexrelname,
           json_object('indexdef', indexdef, 'index_bytes', index_bytes, 'is_ready', is_ready)
    from idx i
    where not coalesce(i.is_valid, true)
      and not exists (
          select 1 from act a
          where coalesce(a.state, '') <> 'idle'
            and regexp_matches(coalesce(a.query_preview, ''), '(create|reindex).*index', 'i')
            and strpos(lower(a.query_preview), lower(i.indexrelname)) > 0)
),

-- unindexed_foreign_key: no valid, non-partial index (the extract's covering_index or any index
-- in raw.index_stats, composite primary keys included) has the FK columns as its leading columns
-- (in any order). impact = 1 + log10(rows + 1); effort = 2.
fk_uncovered as (
    select f.*
    from fk f
    where f.covering_index is null
      and not exists (
          select 1 from idx i
          where i.schemaname = f.schemaname and i.relname = f.relname
            and coalesce(i.is_valid, true) and not coalesce(i.has_predicate, false)
            and len(i.indkey) >= len(f.attnums)
            and list_sort(i.indkey[1:len(f.attnums)]) = list_sort(f.attnums))
),
f_fk as (
    select 'unindexed_foreign_key', 'index',
           case when coalesce(table_rows, 0) >= 1000 then 'warning' else 'info' end,
           'Unindexed foreign key ' || schemaname || '.' || relname || ' (' || array_to_string(column_names, ', ') || ')',
           'Foreign key ' || constraint_name || ' on ' || schemaname || '.' || relname || ' ('
               || array_to_string(column_names, ', ') || ') references ' || ref_schemaname || '.' || ref_relname
               || ' but no index starts with these columns: deletes and updates of the referenced rows scan '
               || coalesce(round(table_rows)::bigint, 0) || ' rows, and joins on it cannot use an index.',
           'CREATE INDEX CONCURRENTLY IF NOT EXISTS '
               || analytics.qi(analytics.object_name(relname || '_' || array_to_string(column_names, '_'), '_fk_idx'))
               || ' ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' ('
               || array_to_string(list_transform(column_names, lambda c: analytics.qi(c)), ', ') || ');',
           analytics.score(1 + log10(greatest(coalesce(table_rows, 0), 0) + 1)),
           2,
           schemaname, relname, schemaname || '.' || relname || ':' || constraint_name,
           json_object('constraint', constraint_name, 'columns', column_names,
                       'references', ref_schemaname || '.' || ref_relname, 'table_rows', table_rows)
    from fk_uncovered
),

-- no_primary_key: a user table without one (logical replication, Realtime and safe row
-- updates need it). When a unique index could become the key as it is (raw.index_stats
-- pk_candidate: valid, btree, plain NOT NULL columns, no predicate, no constraint yet), the
-- remediation promotes it (ADD PRIMARY KEY USING INDEX: no table scan, a brief exclusive lock);
-- else it is steps. impact = 2 + log10(rows + 1) / 2; effort = 3 (2 with a candidate).
pk_candidate as (
    select relid, min_by(indexrelname, len(indkey) * 1000000000 + coalesce(index_bytes, 0)) as indexrelname
    from idx
    where coalesce(pk_candidate, false)
    group by relid
),
f_nopk as (
    select 'no_primary_key', 'schema', 'warning',
           'Table without primary key: ' || t.schemaname || '.' || t.relname,
           'Table ' || t.schemaname || '.' || t.relname || ' (' || coalesce(greatest(n_live_tup, 0), 0)
               || ' rows) has no primary key: rows cannot be identified for logical replication, Realtime or tooling.'
               || case when pk.indexrelname is not null
                       then ' Its unique index ' || pk.indexrelname || ' on NOT NULL columns can become the key.'
                       else '' end,
           case when pk.indexrelname is not null
                then '-- A unique index on NOT NULL columns already identifies every row: make it the primary key'
                     || ' (no table scan; takes a brief ACCESS EXCLUSIVE lock).' || chr(10)
                     || 'ALTER TABLE ' || analytics.qi(t.schemaname) || '.' || analytics.qi(t.relname)
                     || ' ADD PRIMARY KEY USING INDEX ' || analytics.qi(pk.indexrelname) || ';'
                else '-- Pick the column(s) that identify a row, then:' || chr(10)
                     || '-- ALTER TABLE ' || analytics.qi(t.schemaname) || '.' || analytics.qi(t.relname) || ' ADD PRIMARY KEY (<columns>);'
                     || chr(10) || '-- or add a surrogate key:' || chr(10)
                     || '-- ALTER TABLE ' || analytics.qi(t.schemaname) || '.' || analytics.qi(t.relname)
                     || ' ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;' end,
           analytics.score(2 + log10(greatest(coalesce(n_live_tup, 0), 0) + 1) / 2),
           case when pk.indexrelname is not null then 2 else 3 end,
           t.schemaname, t.relname, t.schemaname || '.' || t.relname,
           json_object('rows', n_live_tup, 'total_bytes', total_bytes, 'candidate_index', pk.indexrelname)
    from tbl t
    left join pk_candidate pk on pk.relid = t.relid
    where t.has_primary_key = false and coalesce(t.relkind, 'r') <> 'm'
),

-- seq_scan_heavy_table: >= $seq_scan_min_rows rows, and over the snapshots of the last
-- $seq_scan_window_hours (deltas between snapshots, analytics.table_health; lifetime counters
-- also count e.g. the heap scan of every CREATE INDEX) >= $seq_scan_min_scans sequential scans
-- and seq / (seq + index) scans >= $seq_scan_min_ratio. A table needs two snapshots to be
-- judged. impact = log10(rows read sequentially); effort = 3 (find the filter columns, add an index).
-- The pipeline's own sequential scans are subtracted: the heap scans of each index build
-- `aimatrix-pipeline apply` ran, as it measured them on the table (pg_stat_user_tables before and
-- after, ops.applied_recommendations.verification.own_seq_scans), within the window.
own_seq as (
    select o.schema as schemaname, o.table as relname, sum(o.scans) as scans
    from (
        select unnest(from_json(json_extract(verification, '$.own_seq_scans'),
                                '[{"schema":"VARCHAR","table":"VARCHAR","scans":"BIGINT"}]')) as o
        from ops.applied_recommendations
        where project = $project
          and started_at > (select max(snapshot_at) from analytics.table_health where project = $project)
                           - to_microseconds(cast($seq_scan_window_hours * 3600000000 as bigint))
    )
    group by all
),
seq_window as (
    select w.schemaname, w.relname,
           greatest(w.seq_scans - coalesce(own.scans, 0), 0) as seq_scans, w.idx_scans, w.intervals,
           w.window_start
    from (
        select schemaname, relname,
               sum(seq_scan_delta) as seq_scans, sum(idx_scan_delta) as idx_scans,
               count(seq_scan_delta) as intervals, min(snapshot_at) as window_start
        from analytics.table_health
        where project = $project
          and snapshot_at > (select max(snapshot_at) from analytics.table_health where project = $project)
                            - to_microseconds(cast($seq_scan_window_hours * 3600000000 as bigint))
          and seq_scan_delta is not null
        group by schemaname, relname
    ) w
    left join own_seq own on own.schemaname = w.schemaname and own.relname = w.relname
),
seq as (
    select th.schemaname, th.relname, th.estimated_rows, w.seq_scans, w.idx_scans, w.window_start,
           w.seq_scans::double / nullif(w.seq_scans + w.idx_scans, 0) as ratio
    from th join seq_window w using (schemaname, relname)
),
f_seq as (
    select 'seq_scan_heavy_table', 'index', 'warning',
           'Sequential scans dominate on ' || schemaname || '.' || relname,
           schemaname || '.' || relname || ' (' || round(estimated_rows)::bigint || ' rows) was read by '
               || seq_scans || ' sequential scans against ' || idx_scans || ' index scans since '
               || window_start || ' (' || round(100 * ratio, 1) || ' % sequential).',
           '-- Find the statements that scan it, then index their filter columns with CREATE INDEX CONCURRENTLY:' || chr(10)
               || 'SELECT query, calls, mean_exec_time FROM ' || (select pss from ext) || 'pg_stat_statements WHERE query ILIKE '
               || analytics.ql('%' || relname || '%') || ' ORDER BY total_exec_time DESC LIMIT 10;',
           analytics.score(log10(greatest(seq_scans * estimated_rows, 1))),
           3,
           schemaname, relname, schemaname || '.' || relname,
           json_object('seq_scan', seq_scans, 'idx_scan', idx_scans, 'rows', estimated_rows, 'seq_scan_ratio', ratio,
                       'since', window_start)
    from seq
    where estimated_rows >= $seq_scan_min_rows and seq_scans >= $seq_scan_min_scans
      and ratio >= $seq_scan_min_ratio
),

-- vacuum_overdue: dead tuples past the table's autovacuum threshold (reloptions respected), or a
-- table of >= $vacuum_never_min_rows rows never vacuumed nor analyzed. impact = 2 + 8 * dead
-- ratio; effort = 1 (2 when autovacuum is disabled on it).
f_vacuum as (
    select 'vacuum_overdue', 'maintenance', 'warning',
           'Vacuum overdue on ' || schemaname || '.' || relname,
           schemaname || '.' || relname || ': ' || coalesce(n_dead_tup, 0) || ' dead tuples ('
               || round(100 * coalesce(dead_tuple_ratio, 0), 1) || ' %) against an autovacuum threshold of '
               || round(vacuum_threshold_tuples)::bigint || '; last vacuum '
               || coalesce(last_vacuum::varchar, 'never') || ', last analyze ' || coalesce(last_analyze::varchar, 'never')
               || case when not autovacuum_enabled then '; autovacuum is disabled for it.' else '.' end,
           'VACUUM (ANALYZE) ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ';'
               || case when not autovacuum_enabled
                       then chr(10) || '-- autovacuum is off for this table; to turn it back on:' || chr(10)
                            || '-- ALTER TABLE ' || analytics.qi(schemaname) || '.' || analytics.qi(relname)
                            || ' RESET (autovacuum_enabled);'
                       else '' end,
           analytics.score(2 + 8 * coalesce(dead_tuple_ratio, 0)),
           case when autovacuum_enabled then 1 else 2 end,
           schemaname, relname, schemaname || '.' || relname,
           json_object('n_dead_tup', n_dead_tup, 'vacuum_threshold_tuples', vacuum_threshold_tuples,
                       'dead_tuple_ratio', dead_tuple_ratio, 'last_vacuum', last_vacuum,
                       'last_analyze', last_analyze, 'autovacuum_enabled', autovacuum_enabled)
    from th
    where vacuum_due
       or (last_vacuum is null and last_analyze is null and estimated_rows >= $vacuum_never_min_rows)
),

-- low_cache_hit_ratio: heap or index hit ratio below $cache_hit_ratio_min over at least
-- $cache_min_blocks block accesses. impact = 1 + 50 * (threshold - ratio); effort = 5.
cache as (
    select datname, 'heap' as kind,
           coalesce(heap_blks_hit, blks_hit) as hit, coalesce(heap_blks_read, blks_read) as read
    from db
    union all
    select datname, 'index', idx_blks_hit, idx_blks_read from db
),
f_cache as (
    select 'low_cache_hit_ratio', 'database',
           case when hit::double / (hit + read) < 0.8 then 'critical' else 'warning' end,
           'Low ' || kind || ' cache hit ratio on ' || datname,
           'The ' || kind || ' cache hit ratio of ' || datname || ' is '
               || round(100 * hit::double / (hit + read), 2) || ' % (' || read || ' blocks read from disk, '
               || hit || ' from shared buffers), below ' || round(100 * $cache_hit_ratio_min, 2)
               || ' %: the working set does not fit in memory, or queries read more than they need.',
           '-- Statements reading most blocks from disk (fix them, or move to a larger compute size):' || chr(10)
               || 'SELECT query, calls, shared_blks_read, shared_blks_hit FROM ' || (select pss from ext) || 'pg_stat_statements'
               || ' ORDER BY shared_blks_read DESC LIMIT 10;',
           analytics.score(1 + 50 * ($cache_hit_ratio_min - hit::double / (hit + read))),
           5,
           cast(null as varchar), datname, datname || ':' || kind,
           json_object('kind', kind, 'ratio', hit::double / (hit + read), 'blks_hit', hit, 'blks_read', read,
                       'threshold', $cache_hit_ratio_min)
    from cache
    where hit + read >= $cache_min_blocks and hit::double / (hit + read) < $cache_hit_ratio_min
),

-- connection_saturation: connections in use / usable (max_connections - reserved) at or above
-- $connection_utilisation_max. impact = 10 * utilisation; effort = 4.
f_conn as (
    select 'connection_saturation', 'database',
           case when connection_utilisation >= 0.95 then 'critical' else 'warning' end,
           'Connections near the limit on ' || datname,
           conn_total || ' of ' || usable_connections || ' usable connections in use ('
               || round(100 * connection_utilisation, 1) || ' %): ' || coalesce(conn_active, 0) || ' active, '
               || coalesce(conn_idle, 0) || ' idle, ' || coalesce(conn_idle_in_transaction, 0) || ' idle in transaction.',
           '-- Route clients through the connection pooler (transaction mode) and end idle sessions:' || chr(10)
               || 'SELECT usename, application_name, state, count(*) FROM pg_stat_activity'
               || ' GROUP BY 1, 2, 3 ORDER BY 4 DESC;',
           analytics.score(10 * connection_utilisation),
           4,
           cast(null as varchar), datname, datname,
           json_object('conn_total', conn_total, 'usable_connections', usable_connections,
                       'utilisation', connection_utilisation, 'idle_in_transaction', conn_idle_in_transaction)
    from dbh
    where connection_utilisation >= $connection_utilisation_max
),

-- Vector findings. Index DDL uses the column's own operator class where one exists, else the
-- cosine one; effort 8 above 1M vectors, else 5; impact = max(avg query
-- ms / 50, log10(rows)).
vec_cols as (
    select schemaname, relname, column_name, any_value(column_type) as column_type,
           any_value(dimensions) as dimensions, max(table_rows) as table_rows,
           max(avg_query_ms) as avg_query_ms,
           count(*) filter (where access_method in ('hnsw', 'ivfflat') and coalesce(is_valid, true)) as ann_indexes
    from vec
    group by schemaname, relname, column_name
),
f_vec_missing as (
    select 'vector_missing_index', 'vector', 'warning',
           'No ANN index on ' || schemaname || '.' || relname || '.' || column_name,
           schemaname || '.' || relname || ' holds ' || round(table_rows)::bigint || ' vectors in '
               || column_name || ' without an HNSW or IVFFlat index: every similarity search scans them all.',
           '-- Use the operator class of the distance your queries use (cosine shown).' || chr(10)
               || 'CREATE INDEX CONCURRENTLY IF NOT EXISTS '
               || analytics.qi(analytics.object_name(relname || '_' || column_name, '_hnsw_idx')) || ' ON '
               || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' USING hnsw ('
               || analytics.qi(column_name) || ' ' || (select vector from ext)
               || case when column_type ilike '%halfvec%' then 'halfvec_cosine_ops'
                       when column_type ilike '%sparsevec%' then 'sparsevec_cosine_ops'
                       else 'vector_cosine_ops' end || ');',
           analytics.score(greatest(coalesce(avg_query_ms / 50, 0), log10(greatest(table_rows, 1)))),
           case when table_rows > 1000000 then 8 else 5 end,
           schemaname, relname, schemaname || '.' || relname || '.' || column_name,
           json_object('rows', table_rows, 'dimensions', dimensions, 'avg_query_ms', avg_query_ms)
    from vec_cols
    where ann_indexes = 0 and table_rows >= $vector_missing_index_min_rows
),
ivf as (
    select *,
           case when table_rows <= 1000000 then greatest(table_rows / 1000, 1) else sqrt(table_rows) end as rec_lists
    from vec
    where access_method = 'ivfflat'
),
f_vec_hnsw as (
    select 'vector_ivfflat_to_hnsw', 'vector', 'warning',
           'Move ' || schemaname || '.' || indexrelname || ' from IVFFlat to HNSW',
           'IVFFlat index ' || indexrelname || ' on ' || schemaname || '.' || relname || ' (' || round(table_rows)::bigint
               || ' vectors, lists = ' || coalesce(lists, 100) || '): HNSW gives better speed and recall, and does'
               || ' not degrade as rows are added after the build, as IVFFlat''s trained lists do.',
           'CREATE INDEX CONCURRENTLY IF NOT EXISTS ' || analytics.qi(left(indexrelname, 56) || '_hnsw')
               || ' ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' USING hnsw ('
               || analytics.qi(column_name) || ' ' || (select vector from ext)
               || analytics.opclass(coalesce(opclass, 'vector_l2_ops')) || ');' || chr(10)
               || 'DROP INDEX CONCURRENTLY IF EXISTS ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';',
           analytics.score(greatest(coalesce(avg_query_ms / 50, 0), log10(greatest(table_rows, 1)))),
           case when table_rows > 1000000 then 8 else 5 end,
           schemaname, indexrelname, schemaname || '.' || indexrelname,
           json_object('rows', table_rows, 'lists', lists, 'opclass', opclass, 'avg_query_ms', avg_query_ms, 'table', relname,
                       'p95_query_ms', p95_query_ms)
    from ivf
    where table_rows >= $ivfflat_to_hnsw_min_rows
),
f_vec_lists as (
    select 'vector_ivfflat_lists', 'vector', 'warning',
           'IVFFlat lists off for ' || schemaname || '.' || indexrelname,
           'IVFFlat index ' || indexrelname || ' on ' || schemaname || '.' || relname || ' has lists = '
               || coalesce(lists, 100) || ' for ' || round(table_rows)::bigint || ' rows; pgvector''s guidance is about '
               || round(rec_lists)::bigint || ' (rows / 1000 up to 1M rows, sqrt(rows) above).'
               || ' Too many lists hurt recall, too few make each probe slow.',
           'CREATE INDEX CONCURRENTLY IF NOT EXISTS '
               || analytics.qi(left(indexrelname, 50) || '_lists' || round(rec_lists)::bigint)
               || ' ON ' || analytics.qi(schemaname) || '.' || analytics.qi(relname) || ' USING ivfflat ('
               || analytics.qi(column_name) || ' ' || (select vector from ext)
               || analytics.opclass(coalesce(opclass, 'vector_l2_ops')) || ') WITH (lists = '
               || round(rec_lists)::bigint || ');' || chr(10)
               || 'DROP INDEX CONCURRENTLY IF EXISTS ' || analytics.qi(schemaname) || '.' || analytics.qi(indexrelname) || ';',
           analytics.score(2 + 2 * abs(ln(coalesce(lists, 100) / rec_lists))),
           case when table_rows > 1000000 then 8 else 5 end,
           schemaname, indexrelname, schemaname || '.' || indexrelname,
           json_object('rows', table_rows, 'lists', coalesce(lists, 100), 'recommended_lists', rec_lists,
                       'table', relname)
    from ivf
    where table_rows >= 0  -- reltuples -1: never analyzed, row count unknown
      and ((table_rows >= $ivfflat_lists_min_rows
            and (coalesce(lists, 100) > rec_lists * $ivfflat_lists_factor
                 or coalesce(lists, 100) < rec_lists / $ivfflat_lists_factor))
           or coalesce(lists, 100) > table_rows / 10)
),

-- vector_compute_undersized: a column's vectors exceed Supabase's HNSW sizing guidance for the
-- project's compute size x $vector_compute_headroom. Guidance exists for 384 and 1536 dims: up
-- to 384 dims use the 384 figures, up to 1536 the 1536 ones, above that 1536's scaled by
-- 1536 / dims. nano uses micro's figure (a lower bound). Sizes without a figure are not judged.
-- impact = 3 + 2 * vectors / guidance; effort = 6 (a compute upgrade costs money).
guidance(dims_class, compute_size, capacity, size_rank) as (
    values (1536, 'nano', 15000, 0), (1536, 'micro', 15000, 1), (1536, 'small', 50000, 2),
           (1536, 'medium', 100000, 3), (1536, 'large', 224000, 4), (1536, 'xl', 500000, 5),
           (1536, '2xl', 1000000, 6), (1536, '4xl', 1000000, 7), (1536, '8xl', 1000000, 8),
           (1536, '12xl', 1000000, 9), (1536, '16xl', 1000000, 10),
           (384, 'nano', 100000, 0), (384, 'micro', 100000, 1), (384, 'small', 250000, 2),
           (384, 'medium', 500000, 3), (384, 'large', 1000000, 4)
),
vec_sized as (
    select c.*, g.capacity * case when c.dimensions > 1536 then 1536.0 / c.dimensions else 1 end as capacity,
           g.size_rank,
           case when c.dimensions <= 384 then 384 else 1536 end as dims_class
    from vec_cols c
    join guidance g
      on g.dims_class = case when c.dimensions <= 384 then 384 else 1536 end
     and g.compute_size = $compute_size
    where c.dimensions is not null
),
f_vec_compute as (
    select 'vector_compute_undersized', 'vector',
           case when table_rows > 2 * capacity then 'critical' else 'warning' end,
           'Compute too small for the vectors in ' || schemaname || '.' || relname || '.' || column_name,
           schemaname || '.' || relname || '.' || column_name || ' holds ' || round(table_rows)::bigint || ' vectors of '
               || dimensions || ' dimensions; Supabase''s guidance for ' || $compute_size || ' compute is about '
               || round(capacity)::bigint || ' for an HNSW index to stay in memory. Suggested size: '
               || coalesce((select min_by(g.compute_size, g.size_rank) from guidance g
                            where g.dims_class = s.dims_class
                              and g.capacity * case when s.dimensions > 1536 then 1536.0 / s.dimensions else 1 end
                                  >= s.table_rows / $vector_compute_headroom), 'beyond the published guidance')
               || '.',
           '-- Upgrade the project''s compute size (Project Settings > Compute and Disk), or store fewer'
               || ' dimensions (e.g. halfvec or a smaller embedding model).',
           analytics.score(3 + 2 * table_rows / capacity),
           6,
           schemaname, relname, schemaname || '.' || relname || '.' || column_name,
           json_object('rows', table_rows, 'dimensions', dimensions, 'compute_size', $compute_size,
                       'guidance_vectors', capacity, 'headroom', $vector_compute_headroom)
    from vec_sized s
    where table_rows > capacity * $vector_compute_headroom
),

findings as (
    select * from f_slow
    union all select * from f_unused
    union all select * from f_dup
    union all select * from f_invalid
    union all select * from f_fk
    union all select * from f_nopk
    union all select * from f_seq
    union all select * from f_vacuum
    union all select * from f_cache
    union all select * from f_conn
    union all select * from f_vec_missing
    union all select * from f_vec_hnsw
    union all select * from f_vec_lists
    union all select * from f_vec_compute
    -- security and exposure findings (security_findings.sql), staged by derive_recommendations
    union all select * from _security_findings
    -- sequences, NOT VALID constraints, replication slots (health_findings.sql), staged likewise
    union all select * from _health_findings
),
identified as (
    select *, md5($project || '|' || name || '|' || object_key)[1:16] as id
    from findings
),
previous as (
    select id, min(first_seen) as first_seen
    from analytics.optimization_recommendations
    where project = $project
    group by id
)
select $project as project,
       f.id, f.name, f.category, f.level, f.title, f.detail, f.remediation_sql,
       cast(f.impact as integer) as impact, cast(f.effort as integer) as effort,
       f.object_schema, f.object_name, f.object_key,
       coalesce(p.first_seen, $as_of) as first_seen,
       $as_of as last_seen,
       f.metadata
from identified f
left join previous p using (id)
qualify row_number() over (partition by f.id order by f.impact desc) = 1
order by f.impact desc, f.effort, f.name, f.object_key
