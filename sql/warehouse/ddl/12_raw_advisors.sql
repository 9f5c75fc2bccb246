-- raw.*: catalog facts the security and schema advisors read (one row set per project and
-- snapshot, like the statistics snapshots), and columns added to older raw tables. ALTER ... ADD
-- COLUMN IF NOT EXISTS brings a warehouse created by an earlier version up to date.

-- index_stats: whether the index could become the primary key as it is (unique, valid, btree,
-- plain ascending key columns all NOT NULL, no predicate, not already a constraint's index).
alter table raw.index_stats add column if not exists pk_candidate boolean;

-- table_stats: r table, m materialized view (pg_stat_user_tables lists both; a materialized
-- view cannot have a primary key).
alter table raw.table_stats add column if not exists relkind varchar;

-- vector_indexes: schema of the vector extension (operator classes are qualified with it).
alter table raw.vector_indexes add column if not exists pgvector_schema varchar;

-- Schemas the Data API (PostgREST) serves: its pgrst.db_schemas setting read from the database
-- (role or database setting), else PostgREST's default `public`.
create table if not exists raw.api_schemas (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar,
    setting_source varchar          -- role:<name>[@database] | database | default
);

-- Tables, views, materialized views and foreign tables outside the system schemas: row level
-- security, policies, what anon/authenticated may do, view options, auth.users dependencies.
create table if not exists raw.relation_security (
    project varchar not null,
    snapshot_at timestamptz not null,
    relid bigint, schemaname varchar, relname varchar,
    relkind varchar,                -- r table, p partitioned table, v view, m materialized view, f foreign table
    rls_enabled boolean, rls_forced boolean,
    policies integer,
    anon_access boolean,            -- anon may SELECT/INSERT/UPDATE/DELETE it (table privilege)
    authenticated_access boolean,
    anon_schema_usage boolean, authenticated_schema_usage boolean,
    security_invoker boolean,       -- views: security_invoker set in reloptions
    extension_member boolean,       -- created by an extension
    reads_auth_users boolean,       -- a view/materialized view whose query reads auth.users
    auth_users_rls_enabled boolean
);

-- Row level security policies, with the roles each applies to (PUBLIC expanded to every role
-- that does not bypass RLS) and the USING / WITH CHECK expressions as the server deparses them.
create table if not exists raw.policies (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, relname varchar, policyname varchar,
    permissive boolean,
    command varchar,                -- SELECT | INSERT | UPDATE | DELETE | ALL
    roles varchar[],                -- as declared (public = every role)
    applies_to varchar[],
    using_expr varchar, check_expr varchar,
    rls_enabled boolean
);

-- Functions and procedures outside the system schemas.
create table if not exists raw.functions (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, name varchar,
    identity_args varchar,          -- pg_get_function_identity_arguments (server-quoted)
    kind varchar,                   -- f function | p procedure
    language varchar,
    security_definer boolean,
    search_path_set boolean,        -- proconfig sets search_path
    anon_execute boolean, authenticated_execute boolean,
    extension_member boolean
);

-- Installed extensions with their schema and the version ALTER EXTENSION ... UPDATE would reach.
create table if not exists raw.extensions (
    project varchar not null,
    snapshot_at timestamptz not null,
    extname varchar, schemaname varchar,
    installed_version varchar, default_version varchar,
    relocatable boolean
);

-- pg_stat_statements_info: the schema the extension is installed in (diagnostic queries in
-- remediation SQL qualify pg_stat_statements with it).
alter table raw.pg_stat_statements_info add column if not exists extension_schema varchar;
-- The monitoring role's own oid (pg_stat_statements' userid of the pipeline's statements), so the
-- slow-query summary can leave the pipeline's own statements out.
alter table raw.pg_stat_statements_info add column if not exists monitor_userid bigint;

-- sequences: the column a sequence feeds whose type has the smallest maximum (DEFAULT nextval()
-- or identity), so exhaustion is judged against the column, not only the sequence.
alter table raw.sequences add column if not exists column_max_value bigint;
alter table raw.sequences add column if not exists column_type varchar;
alter table raw.sequences add column if not exists column_schema varchar;
alter table raw.sequences add column if not exists column_table varchar;
alter table raw.sequences add column if not exists column_name varchar;

-- Constraints added NOT VALID and not validated since.
create table if not exists raw.not_valid_constraints (
    project varchar not null,
    snapshot_at timestamptz not null,
    schemaname varchar, relname varchar, constraint_name varchar,
    constraint_type varchar,        -- check | foreign key | not null
    definition varchar,
    table_rows double
);

-- Replication slots (physical ones and this database's logical ones) and the WAL each retains.
create table if not exists raw.replication_slots (
    project varchar not null,
    snapshot_at timestamptz not null,
    slot_name varchar, slot_type varchar, plugin varchar, database varchar,
    temporary boolean, active boolean, wal_status varchar, restart_lsn varchar,
    retained_bytes bigint
);

-- One row per stored snapshot of each snapshot asset, written with it (also when it had no
-- rows), so a rule can tell "the latest snapshot is empty" from "no snapshot yet".
create table if not exists raw.snapshot_runs (
    project varchar not null,
    name varchar not null,          -- the snapshot asset (raw/<name>)
    snapshot_at timestamptz not null,
    rows bigint                     -- rows of its main table
);

-- Estimated bloat: pages each table / materialized view / btree index has against the pages its
-- rows would need (from reltuples and pg_stats widths). Wasted bytes = (relpages -
-- expected_pages) x block_size when positive.
create table if not exists raw.bloat (
    project varchar not null,
    snapshot_at timestamptz not null,
    kind varchar,                   -- table | index
    schemaname varchar, relname varchar, indexrelname varchar,
    relpages bigint, expected_pages bigint, block_size integer
);
