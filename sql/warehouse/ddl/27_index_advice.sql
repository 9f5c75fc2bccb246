-- Index advice (analytics/index_suggestions): one row per suggested index, with the columns of
-- analytics.optimization_recommendations so both read together (the dashboard, `apply`), plus
-- the evidence; and one row per advice run.
create table if not exists analytics.index_suggestions (
    project varchar not null,
    id varchar not null,                 -- stable: md5 of project, name, schema, table and columns
    name varchar not null,               -- index_suggestion | index_advice_unavailable
    category varchar,                    -- index
    level varchar,                       -- warning (verified) | info (unverified, unavailable)
    title varchar,
    detail varchar,
    remediation_sql varchar,             -- CREATE INDEX CONCURRENTLY "<name>" ON "<schema>"."<table>" (...);
    impact integer,
    effort integer,
    object_schema varchar,
    object_name varchar,                 -- the table
    object_key varchar,
    first_seen timestamptz,
    last_seen timestamptz,
    metadata json,
    rank integer,                        -- 1 = highest net benefit
    index_name varchar,
    columns varchar[],
    verification varchar,                -- hypopg | unverified
    queries integer,
    fingerprints varchar[],
    saving_ms_per_day double,
    size_bytes bigint,
    writes_per_day double,
    write_overhead_ms_per_day double,
    net_benefit_ms_per_day double,
    cost_reduction double
);

create table if not exists analytics.index_advice_runs (
    project varchar not null,
    run_at timestamptz not null,
    mode varchar,                        -- verified | unverified | unavailable
    window_hours double,
    statements integer,
    explainable integer,
    skipped_unparseable integer,
    not_permitted integer,
    failed integer,
    candidates integer,
    hypothetical_indexes integer,
    suggestions integer,
    seconds double,
    explain_seconds double,
    notes varchar
);
