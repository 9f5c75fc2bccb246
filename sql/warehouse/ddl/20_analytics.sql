-- analytics.*: tables derived from raw.* inside DuckDB (one SQL file per table under
-- sql/warehouse/analytics/). Every table carries `project`; each asset replaces its project's rows
-- in one transaction.
create schema if not exists analytics;

-- Characters a name read from a monitored database may carry but generated SQL must never hold
-- raw: C0 controls (a newline or carriage return ends a `-- ` comment, so the rest of the name
-- would run as SQL), DEL, C1 controls (8-bit CSI), and the invisible format and bidi controls that
-- make pasted text read differently from what runs. All are in the Basic Multilingual Plane.
create or replace macro analytics.unsafe_chars() as
    '[\x00-\x1f\x7f-\x9f\x{061c}\x{200b}-\x{200f}\x{2028}-\x{202e}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{feff}]';

-- Each character of x as itself, except: an unsafe one (analytics.unsafe_chars()) as `prefix`
-- followed by its code point in 4 hex digits, `quote` doubled, and a backslash doubled when
-- `escapes` (inside U&"" and E'' a backslash starts an escape).
create or replace macro analytics.escape_chars(x, prefix, quote, escapes) as
    array_to_string(list_transform(string_split(x, ''), lambda ch:
        case when regexp_matches(ch, analytics.unsafe_chars()) then prefix || printf('%04X', unicode(ch))
             when ch = quote then ch || ch
             when escapes and ch = '\' then '\\'
             else ch end), '');

-- Quote an identifier the way PostgreSQL's quote_ident would (always quoted, so mixed case and
-- reserved words are safe): remediation SQL must be safe to paste. A name holding an unsafe
-- character becomes a Unicode-escaped identifier (U&"a\000Ab" is the name a<newline>b), so no
-- control character ever reaches the SQL text while the statement still names the same object.
create or replace macro analytics.qi(x) as
    case when regexp_matches(x, analytics.unsafe_chars())
         then 'U&"' || analytics.escape_chars(x, '\', '"', true) || '"'
         else '"' || replace(x, '"', '""') || '"' end;

-- A string literal of x that means x whatever the server's standard_conforming_strings: with a
-- backslash or an unsafe character in x it is an E'' literal (backslashes doubled, unsafe
-- characters as \uXXXX, quotes doubled), which reads the same under both settings; a plain ''
-- literal would let a name ending in a backslash close the string when the setting is off
-- (x\'; ALTER ROLE ... would run). Without either, a plain literal with quotes doubled is the same
-- under both settings.
create or replace macro analytics.ql(x) as
    case when regexp_matches(x, analytics.unsafe_chars()) or contains(x, '\')
         then 'E''' || analytics.escape_chars(x, '\u', '''', true) || ''''
         else '''' || replace(x, '''', '''''') || '''' end;

-- The longest prefix of x that fits in n bytes of UTF-8, cut at a character boundary.
create or replace macro analytics.left_bytes(x, n) as
    left(x, len(list_filter(range(1, length(x) + 1), lambda k: strlen(left(x, k)) <= n)));

-- A generated object name base || suffix that PostgreSQL keeps whole: names are cut at 63 BYTES
-- (NAMEDATALEN - 1), which would drop the suffix of a long or non-ASCII name and make two
-- findings' names collide. When it does not fit, the base is cut by bytes at a character boundary
-- and a short hash of the whole base keeps names of different bases apart; the suffix stays.
create or replace macro analytics.object_name(base, suffix) as
    case when strlen(base || suffix) <= 63 then base || suffix
         else analytics.left_bytes(base, 63 - strlen(suffix) - 7) || '_' || left(md5(base), 6) || suffix end;

-- Text that goes after `-- ` in remediation SQL: unsafe characters as \uXXXX, so a comment always
-- ends at the end of its own line.
create or replace macro analytics.comment_text(x) as
    case when regexp_matches(x, analytics.unsafe_chars())
         then analytics.escape_chars(x, '\u', '', false)
         else x end;

-- An operator class name as written in remediation SQL: bare when it is a plain lower-case name
-- (vector_l2_ops), else quoted.
create or replace macro analytics.opclass(x) as
    case when regexp_full_match(x, '[a-z_][a-z0-9_]*') then x else analytics.qi(x) end;

-- A cumulative counter's change over one interval: the whole current value when the counter
-- restarted inside the interval (`restarted`), else the difference.
create or replace macro analytics.counter_delta(cur, prev, restarted) as
    case when restarted then cur else cur - prev end;

-- A numeric storage parameter from pg_class.reloptions ('name=value' strings), NULL if unset.
create or replace macro analytics.reloption(opts, opt_name) as
    try_cast(split_part(list_filter(coalesce(opts, []::varchar[]), lambda x: lower(x) like opt_name || '=%')[1], '=', 2) as double);

-- Integer 1..10 from any number (impact and effort scores).
create or replace macro analytics.score(x) as cast(least(10, greatest(1, round(coalesce(x, 1)))) as integer);

-- One row per (project, snapshot): how each pg_stat_statements interval was interpreted.
create table if not exists analytics.pg_stat_statements_intervals (
    project varchar not null,
    snapshot_at timestamptz not null,
    prev_snapshot_at timestamptz,
    interval_kind varchar,          -- baseline | normal | stats_reset | restart
    dealloc_delta bigint,           -- entries evicted during the interval (pg_stat_statements.max full)
    statements_count integer,
    statements_max integer,
    statements_in_snapshot bigint
);

-- Interval deltas per statement key (dbid, userid, queryid, toplevel); only calls > 0.
create table if not exists analytics.pg_stat_statements_deltas (
    project varchar not null,
    snapshot_at timestamptz not null,
    prev_snapshot_at timestamptz,
    interval_seconds double,
    dbid bigint, userid bigint, queryid bigint, toplevel boolean,
    fingerprint varchar,
    query_preview varchar,
    delta_kind varchar,             -- normal | new_statement | counter_reset | stats_since | stats_reset
    calls bigint,
    plans bigint,
    total_exec_time_ms double,
    total_plan_time_ms double,
    total_time_ms double,
    mean_time_ms double,
    interval_max_exec_time_ms double, -- exact when the statement's max rose or restarted in the interval, else NULL
    rows bigint,
    shared_blks_hit bigint, shared_blks_read bigint, shared_blks_dirtied bigint, shared_blks_written bigint,
    temp_blks_read bigint, temp_blks_written bigint,
    shared_blk_read_time_ms double, shared_blk_write_time_ms double,
    wal_bytes double,
    dealloc_delta bigint
);

create table if not exists analytics.slow_queries_summary (
    project varchar not null,
    source varchar not null,        -- pg_stat_statements | app_log
    fingerprint varchar,
    query_preview varchar,
    hour_bucket timestamptz,
    calls bigint,
    total_time_ms double,
    mean_time_ms double,
    max_time_ms double,
    rows bigint,
    share_of_total_time double,
    p50_ms double, p95_ms double, p99_ms double,
    slow_calls bigint,              -- app_log: calls above slow_query_ms; NULL for pg_stat_statements
    queryids bigint                 -- pg_stat_statements: distinct queryids folded into the fingerprint
);

create table if not exists analytics.query_regressions (
    project varchar not null,
    source varchar not null,
    fingerprint varchar,
    query_preview varchar,
    week_start timestamptz,         -- start of the current 7-day window (previous = the 7 days before)
    calls_prev bigint, calls_curr bigint,
    mean_time_ms_prev double, mean_time_ms_curr double,
    total_time_ms_prev double, total_time_ms_curr double,
    mean_growth double, total_growth double,
    regressed_mean boolean, regressed_total boolean
);

create table if not exists analytics.database_health (
    project varchar not null,
    snapshot_at timestamptz not null,
    datname varchar,
    max_connections integer,
    usable_connections integer,
    conn_total integer, conn_active integer, conn_idle integer, conn_idle_in_transaction integer,
    conn_waiting integer,
    connection_utilisation double,
    heap_cache_hit_ratio double,
    index_cache_hit_ratio double,
    heap_blks_hit_delta bigint, heap_blks_read_delta bigint,
    interval_heap_cache_hit_ratio double,
    xact_commit bigint, xact_rollback bigint,
    commits_delta bigint, rollbacks_delta bigint,
    rollback_ratio double,
    deadlocks bigint, deadlocks_delta bigint,
    database_bytes bigint,
    long_running_queries bigint,
    longest_query_seconds double,
    blocked_backends bigint,
    blocking_pairs bigint,
    xid_age bigint,
    xid_wraparound_ratio double,
    max_sequence_usage_ratio double,
    sequences_near_limit bigint
);

create table if not exists analytics.table_health (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, relname varchar,
    estimated_rows double,
    n_live_tup bigint, n_dead_tup bigint, dead_tuple_ratio double,
    table_bytes bigint, indexes_bytes bigint, total_bytes bigint,
    total_bytes_growth bigint, growth_bytes_per_day double,
    autovacuum_enabled boolean,
    vacuum_threshold_tuples double,
    vacuum_due boolean,
    analyze_threshold_tuples double,
    analyze_due boolean,
    last_vacuum timestamptz, last_analyze timestamptz,
    seq_scan bigint, idx_scan bigint, seq_scan_ratio double,
    has_primary_key boolean,
    xid_age bigint
);

create table if not exists analytics.vector_health (
    project varchar not null,
    snapshot_at timestamptz,
    schemaname varchar, relname varchar, column_name varchar, column_type varchar,
    dimensions integer,
    table_rows double, table_bytes bigint,
    indexrelname varchar, access_method varchar, opclass varchar,
    lists integer, m integer, ef_construction integer,
    recommended_lists double,
    index_bytes bigint, idx_scan bigint, is_valid boolean,
    queries bigint,
    p50_query_ms double, p95_query_ms double, avg_query_ms double,
    index_used_share double,
    avg_similarity_threshold double, min_similarity_threshold double, max_similarity_threshold double,
    avg_result_count double
);

create table if not exists analytics.embedding_stats (
    project varchar not null,
    day date,
    model varchar,
    total_generations bigint,
    total_tokens bigint,
    total_time_ms double,
    error_count bigint,
    avg_time_per_generation_ms double,
    avg_tokens_per_generation double,
    error_rate double,
    cost_estimate_usd double
);

create table if not exists analytics.error_stats (
    project varchar not null,
    time_window varchar,            -- 1h | 24h | 7d, ending at window_end
    window_end timestamptz,
    dimension varchar,              -- total | type | severity
    key varchar,                    -- error name (type) or severity; NULL for total
    error_count bigint,
    errors_per_second double,
    rank integer                    -- 1 = most frequent within (window, dimension); top errors = type rank <= 10
);

create table if not exists analytics.optimization_recommendations (
    project varchar not null,
    id varchar not null,            -- stable: hash of project, name and object key
    name varchar not null,
    category varchar,               -- query | index | schema | maintenance | database | vector
    level varchar,                  -- critical | warning | info
    title varchar,
    detail varchar,
    remediation_sql varchar,
    impact integer,
    effort integer,
    object_schema varchar,
    object_name varchar,
    object_key varchar,
    first_seen timestamptz,
    last_seen timestamptz,
    metadata json
);

-- Warehouses created before the interval cache hit ratio existed get its columns.
alter table analytics.database_health add column if not exists heap_blks_hit_delta bigint;
alter table analytics.database_health add column if not exists heap_blks_read_delta bigint;
alter table analytics.database_health add column if not exists interval_heap_cache_hit_ratio double;
