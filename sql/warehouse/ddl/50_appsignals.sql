-- Application signals (API request logs, API counts, project metrics) and the record of applied
-- remediations. Written by aimatrix_pipeline/appsignals and aimatrix_pipeline/remediation.
create schema if not exists raw;
create schema if not exists analytics;
create schema if not exists ops;

-- One row per API request from the project's edge logs (Management API analytics endpoint
-- logs.all). Loaded by time window: a window's rows are replaced as a whole (delete-then-insert),
-- so re-reading a window never doubles a request.
create table if not exists raw.api_request_logs (
    project varchar not null,
    id varchar not null,                 -- the log event id
    requested_at timestamptz not null,   -- the edge log timestamp (UTC)
    method varchar,
    path varchar,                        -- request path without the query string
    status_code integer,
    response_time_ms double,             -- origin response time as logged by the edge
    loaded_at timestamptz
);

-- The usage.api-counts series: request counts per service and bucket, replaced per project and
-- bucket range on each load.
create table if not exists raw.api_counts (
    project varchar not null,
    bucket_at timestamptz not null,
    interval_name varchar not null,      -- the `interval` requested (e.g. 1day, 1hr)
    rest_requests double,
    auth_requests double,
    storage_requests double,
    realtime_requests double,
    loaded_at timestamptz
);

-- Every sample of every scrape of the project's Prometheus metrics endpoint (realtime, CPU,
-- memory, disk, network, Postgres exporter ...). labels is a JSON object of the sample's labels.
create table if not exists raw.project_metrics (
    project varchar not null,
    scraped_at timestamptz not null,
    metric varchar not null,
    labels json,
    value double
);

-- Per project, service, method, endpoint pattern and UTC hour: request volume, errors by class
-- and response-time percentiles (derived from raw.api_request_logs).
create table if not exists analytics.api_latency_summary (
    project varchar not null,
    service varchar not null,            -- rest | auth | storage | realtime | functions | graphql | other
    method varchar,
    endpoint varchar not null,           -- path with ids and literals collapsed
    hour_bucket timestamptz not null,
    requests bigint,
    errors_4xx bigint,
    errors_5xx bigint,
    error_rate_5xx double,
    mean_ms double,
    p50_ms double,
    p95_ms double,
    p99_ms double,
    max_ms double
);

-- Realtime health per scrape, from raw.project_metrics.
create table if not exists analytics.realtime_health (
    project varchar not null,
    scraped_at timestamptz not null,
    connections double,
    subscriptions double,                -- Postgres Changes subscribers
    messages_per_second double,          -- counter increase since the previous scrape / seconds
    previous_scraped_at timestamptz
);

-- Findings on API endpoints (slowest and most failing), same columns as
-- analytics.optimization_recommendations so both can be read together.
create table if not exists analytics.api_recommendations (
    project varchar not null,
    id varchar not null,
    name varchar not null,               -- api_slow_endpoint | api_error_endpoint
    category varchar,
    level varchar,
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

-- Every executed (or refused at execution time) `aimatrix-pipeline apply`: who, when, what, result.
create table if not exists ops.applied_recommendations (
    id varchar not null,                 -- uuid of this attempt
    recommendation_id varchar not null,
    project varchar not null,
    name varchar,
    object_schema varchar,
    object_name varchar,
    statement varchar not null,
    statement_kind varchar,              -- create_index | drop_index | vacuum | analyze
    applied_by varchar,
    started_at timestamptz not null,
    finished_at timestamptz,
    result varchar not null,             -- succeeded | failed | refused
    message varchar,
    cleanup varchar,                     -- what was cleaned up after a failure, if anything
    verification json
);

-- Request path -> service and endpoint pattern, used by sql/warehouse/appsignals/*.sql
-- (create or replace: idempotent).
--   service: first two path segments decide (/rest/v1 -> rest, /auth/v1 -> auth, ...).
--   endpoint: storage object paths keep the bucket and collapse the object key to :path; edge
--   function paths keep the function slug; then every segment that is a number, a UUID or a long
--   token (16+ URL-safe characters with a digit) becomes :id. Query strings never reach here.
create or replace macro analytics.api_service(p) as
    case
        when p like '/rest/v1%' then 'rest'
        when p like '/auth/v1%' then 'auth'
        when p like '/storage/v1%' then 'storage'
        when p like '/realtime/v1%' then 'realtime'
        when p like '/functions/v1%' then 'functions'
        when p like '/graphql/v1%' then 'graphql'
        else 'other'
    end;

create or replace macro analytics.api_endpoint(p) as
    array_to_string(
        list_transform(
            string_split(
                regexp_replace(
                    regexp_replace(p,
                        '^(/storage/v1/object/(public/|sign/|authenticated/|info/|upload/sign/|list/)?[^/]+)/.+$',
                        '\1/:path'),
                    '^(/functions/v1/[^/]+)/.+$', '\1/:path'),
                '/'),
            lambda s: case
                when regexp_full_match(s, '[0-9]+') then ':id'
                when regexp_full_match(lower(s), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}') then ':id'
                when length(s) >= 16 and regexp_full_match(s, '[A-Za-z0-9_=.-]+') and regexp_matches(s, '[0-9]') then ':id'
                else s
            end),
        '/');
