-- raw.*: copies of what the monitored databases report, one row set per project and snapshot.
-- Every table carries `project` (the partition key). Snapshot tables are keyed by
-- (project, snapshot_at); re-running a snapshot for the same snapshot_at replaces it.
create schema if not exists raw;

-- pg_stat_statements counters, canonical names of PG 18 (PG 15/16 `blk_read_time` and
-- `blk_write_time` land in shared_blk_read_time / shared_blk_write_time). Query text lives in
-- raw.pg_stat_statements_queries, literal-free, once per statement.
create table if not exists raw.pg_stat_statements_snapshots (
    project varchar not null,
    snapshot_at timestamptz not null,
    userid bigint, dbid bigint, toplevel boolean, queryid bigint,
    plans bigint, total_plan_time double, min_plan_time double, max_plan_time double,
    mean_plan_time double, stddev_plan_time double,
    calls bigint, total_exec_time double, min_exec_time double, max_exec_time double,
    mean_exec_time double, stddev_exec_time double,
    rows bigint,
    shared_blks_hit bigint, shared_blks_read bigint, shared_blks_dirtied bigint, shared_blks_written bigint,
    local_blks_hit bigint, local_blks_read bigint, local_blks_dirtied bigint, local_blks_written bigint,
    temp_blks_read bigint, temp_blks_written bigint,
    shared_blk_read_time double, shared_blk_write_time double,
    local_blk_read_time double, local_blk_write_time double,
    temp_blk_read_time double, temp_blk_write_time double,
    wal_records bigint, wal_fpi bigint, wal_bytes double, wal_buffers_full bigint,
    jit_functions bigint, jit_generation_time double, jit_inlining_count bigint, jit_inlining_time double,
    jit_optimization_count bigint, jit_optimization_time double, jit_emission_count bigint,
    jit_emission_time double, jit_deform_count bigint, jit_deform_time double,
    parallel_workers_to_launch bigint, parallel_workers_launched bigint,
    stats_since timestamptz, minmax_stats_since timestamptz
);

-- One row per snapshot: the reset/eviction context the deltas need.
create table if not exists raw.pg_stat_statements_info (
    project varchar not null,
    snapshot_at timestamptz not null,
    dbid bigint,
    datname varchar,
    dealloc bigint,
    stats_reset timestamptz,
    postmaster_start_time timestamptz,
    server_version_num integer,
    statements_max integer,
    statements_count integer
);

-- Literal-free text of each statement (pglast normalisation), kept once per (project, dbid, queryid).
create table if not exists raw.pg_stat_statements_queries (
    project varchar not null,
    dbid bigint,
    queryid bigint,
    fingerprint varchar,
    query_preview varchar,
    first_seen timestamptz,
    last_seen timestamptz
);

create table if not exists raw.table_stats (
    project varchar not null,
    snapshot_at timestamptz not null,
    relid bigint, schemaname varchar, relname varchar,
    reltuples double, n_live_tup bigint, n_dead_tup bigint, n_mod_since_analyze bigint,
    seq_scan bigint, seq_tup_read bigint, idx_scan bigint, idx_tup_fetch bigint,
    n_tup_ins bigint, n_tup_upd bigint, n_tup_del bigint, n_tup_hot_upd bigint,
    last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz,
    vacuum_count bigint, autovacuum_count bigint, analyze_count bigint, autoanalyze_count bigint,
    heap_blks_read bigint, heap_blks_hit bigint, idx_blks_read bigint, idx_blks_hit bigint,
    table_bytes bigint, indexes_bytes bigint, total_bytes bigint,
    has_primary_key boolean,
    reloptions varchar[],
    relfrozenxid_age bigint
);

create table if not exists raw.index_stats (
    project varchar not null,
    snapshot_at timestamptz not null,
    indexrelid bigint, relid bigint, schemaname varchar, relname varchar, indexrelname varchar,
    access_method varchar,
    idx_scan bigint, idx_tup_read bigint, idx_tup_fetch bigint,
    idx_blks_read bigint, idx_blks_hit bigint,
    index_bytes bigint,
    is_unique boolean, is_primary boolean, is_valid boolean, is_ready boolean, is_live boolean,
    backs_constraint boolean,
    column_names varchar[],      -- NULL entries for expression columns
    indkey integer[],            -- attnums, 0 for an expression
    opclasses varchar[],
    has_expressions boolean, has_predicate boolean,
    indexdef varchar,
    stats_reset timestamptz
);

create table if not exists raw.database_stats (
    project varchar not null,
    snapshot_at timestamptz not null,
    datid bigint, datname varchar,
    database_bytes bigint,
    numbackends integer,
    xact_commit bigint, xact_rollback bigint,
    blks_read bigint, blks_hit bigint,
    tup_returned bigint, tup_fetched bigint, tup_inserted bigint, tup_updated bigint, tup_deleted bigint,
    conflicts bigint, temp_files bigint, temp_bytes bigint, deadlocks bigint,
    stats_reset timestamptz,
    heap_blks_read bigint, heap_blks_hit bigint, idx_blks_read bigint, idx_blks_hit bigint,
    max_connections integer, superuser_reserved_connections integer,
    conn_total integer, conn_active integer, conn_idle integer, conn_idle_in_transaction integer,
    conn_waiting integer,
    datfrozenxid_age bigint,
    postmaster_start_time timestamptz,
    server_version_num integer
);

-- Server settings monitoring rules depend on (autovacuum thresholds, preload list, ...).
create table if not exists raw.server_settings (
    project varchar not null,
    snapshot_at timestamptz not null,
    name varchar, setting varchar, unit varchar, source varchar
);

-- Non-idle backends with their runtime and who blocks them (pg_blocking_pids).
create table if not exists raw.activity (
    project varchar not null,
    snapshot_at timestamptz not null,
    pid integer, usename varchar, application_name varchar, backend_type varchar,
    state varchar, wait_event_type varchar, wait_event varchar,
    backend_start timestamptz, xact_start timestamptz, query_start timestamptz, state_change timestamptz,
    query_seconds double, xact_seconds double,
    blocked_by integer[],
    query_preview varchar
);

create table if not exists raw.foreign_keys (
    project varchar not null,
    snapshot_at timestamptz not null,
    constraint_name varchar, schemaname varchar, relname varchar,
    column_names varchar[], attnums integer[],
    ref_schemaname varchar, ref_relname varchar, ref_column_names varchar[],
    covering_index varchar,     -- a valid index whose leading columns are the FK columns, if any
    table_rows double, table_bytes bigint
);

create table if not exists raw.sequences (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, sequencename varchar, data_type varchar,
    last_value bigint, max_value bigint, increment_by bigint, cycle boolean
);

-- pgvector: every vector/halfvec/sparsevec column, with its ANN indexes (one row per index;
-- index columns NULL when the column has none).
create table if not exists raw.vector_indexes (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, relname varchar, column_name varchar, column_type varchar,
    dimensions integer,
    table_rows double, table_bytes bigint,
    indexrelname varchar, access_method varchar, opclass varchar,
    reloptions varchar[],
    lists integer, m integer, ef_construction integer,
    index_bytes bigint, idx_scan bigint, is_valid boolean,
    indexdef varchar,
    pgvector_version varchar
);

-- Application logs. Query text is never stored raw: `text_hash` (md5 of the text) joins to
-- raw.query_texts, which holds the libpg_query fingerprint and a literal-free preview.
create table if not exists raw.query_performance_logs (
    project varchar not null,
    id uuid not null,
    query_hash varchar,
    text_hash varchar,
    query_length integer,
    execution_time_ms double,
    rows_returned bigint,
    rows_examined bigint,
    index_usage json,
    user_id uuid,
    organization_id uuid,
    created_at timestamptz not null,
    extracted_at timestamptz
);

create table if not exists raw.query_texts (
    project varchar not null,
    text_hash varchar not null,
    fingerprint varchar,
    query_preview varchar,
    parse_ok boolean,
    first_seen timestamptz
);

create table if not exists raw.vector_query_logs (
    project varchar not null,
    id uuid not null,
    query_type varchar,
    table_name varchar,
    similarity_threshold double,
    vector_dimension integer,
    query_time_ms double,
    result_count bigint,
    index_used boolean,
    created_at timestamptz not null,
    extracted_at timestamptz
);

create table if not exists raw.embedding_generation_logs (
    project varchar not null,
    id uuid not null,
    model varchar,
    token_count bigint,
    generation_time_ms double,
    error varchar,
    created_at timestamptz not null,
    extracted_at timestamptz
);

create table if not exists raw.error_events (
    project varchar not null,
    id uuid not null,
    name varchar,
    message varchar,
    stack varchar,
    severity varchar,
    context json,
    user_agent varchar,
    url varchar,
    created_at timestamptz not null,
    extracted_at timestamptz
);

-- Rows we could not load as they are. Nothing is dropped: the full row is kept (text columns as
-- bytes, so invalid UTF-8 survives) with the reason, and re-extracting replaces, never duplicates.
create table if not exists raw.quarantine (
    project varchar not null,
    source_table varchar not null,
    source_id varchar,
    reason varchar not null,
    row_json varchar,
    payload blob,
    quarantined_at timestamptz
);

-- High-water marks for incremental extracts; moved only in the transaction that loads the rows.
create table if not exists raw.extract_state (
    project varchar not null,
    source_table varchar not null,
    high_water_mark timestamptz,
    rows_loaded_total bigint,
    updated_at timestamptz
);

-- The shape of an app-log query text: a hash of the text with its literals masked (the extract
-- masks them on the way in, see aimatrix_pipeline/querytext.py LITERAL_PATTERN). Texts that differ
-- only in literals share a text_hash, so the parser runs once per shape, not once per row.
-- hash() is DuckDB's 64-bit hash, rendered as hex: plenty for thousands of shapes, and if a future
-- DuckDB hashed differently, a shape would just get a second raw.query_texts row with the same
-- fingerprint (analytics groups by fingerprint), never a wrong one.
create or replace macro raw.text_hash(masked) as hex(hash(coalesce(masked, '')));
