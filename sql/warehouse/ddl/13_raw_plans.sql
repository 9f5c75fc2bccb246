-- raw.*: plan history (aimatrix_pipeline/extract/plans.py).
-- Plan history: the generic plan of each of a project's top statements, one row set per capture
-- (keyed by (project, captured_at); a re-run capture replaces itself). A statement that could not
-- be explained is a row with its status (permission_denied, not_explainable, text_unavailable,
-- timeout, error) and no plan.
create table if not exists raw.query_plans (
    project varchar not null,
    captured_at timestamptz not null,
    fingerprint varchar,
    dbid bigint,
    queryid bigint,
    query_preview varchar,
    window_total_time_ms double,    -- the statement's time in the window that ranked it
    window_calls bigint,
    rank integer,                   -- 1 = most total time in the window
    status varchar not null,        -- ok | permission_denied | not_explainable | text_unavailable | timeout | error
    error varchar,                  -- first line of the server's message when status is not ok
    plan_hash varchar,              -- hash of the plan's shape (explain.plan_hash): equal hash, same plan
    total_cost double,
    plan_rows double,
    relations varchar[],            -- schema.table of every scanned relation
    indexes varchar[],              -- schema.index of every index the plan uses
    node_types varchar[],
    plan_json varchar,              -- the top-level Plan object of EXPLAIN (FORMAT JSON); NULL when the
                                    -- plan is the fingerprint's previous one (stored once per plan)
    explain_ms double,              -- time the EXPLAIN took on the monitored database
    server_version_num integer
);
