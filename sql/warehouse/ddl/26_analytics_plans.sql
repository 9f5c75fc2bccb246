-- analytics.*: plan history and the closed loop (plan_changes.sql, index_impact.sql), and the
-- cause a regression gets when its plan changed at the same time.

-- One row per plan change of a fingerprint (raw.query_plans), with the mean time before and after.
create table if not exists analytics.plan_changes (
    project varchar not null,
    fingerprint varchar,
    query_preview varchar,
    changed_at timestamptz,         -- the capture that first saw the new plan
    prev_captured_at timestamptz,   -- the last capture of the old plan: the change is in between
    plan_hash_before varchar, plan_hash_after varchar,
    total_cost_before double, total_cost_after double,
    indexes_before varchar[], indexes_after varchar[],
    indexes_added varchar[], indexes_removed varchar[],
    calls_before bigint, mean_time_ms_before double,
    calls_after bigint, mean_time_ms_after double,
    mean_time_ratio double          -- after / before: above 1 the new plan is slower
);

-- Verified impact of each new index on the statements it was meant to help.
create table if not exists analytics.index_impact (
    project varchar not null,
    schemaname varchar, relname varchar, indexrelname varchar, indexrelid bigint,
    created_at timestamptz,         -- apply's finish time, else the first index snapshot that saw it
    first_seen_at timestamptz,
    created_by varchar,             -- apply | other
    applied_id varchar,             -- ops.applied_recommendations.id of the apply that built it
    recommendation_id varchar,
    fingerprint varchar,
    query_preview varchar,
    reason varchar,                 -- uses_index | scans_its_table | names_its_table
    calls_before bigint, mean_time_ms_before double,
    calls_after bigint, mean_time_ms_after double,
    saving_ms_per_call double,
    saving_ratio double,            -- 1 - after / before
    saved_ms double,                -- saving per call x calls after
    windows_after bigint,           -- delta intervals measured after the build
    index_scans bigint,             -- the index's idx_scan in its latest snapshot
    status varchar                  -- measuring | no_baseline | saved | not_saved | no_statement
);

-- query_regressions: the plan change that coincides with a regression, if any.
alter table analytics.query_regressions add column if not exists plan_changed boolean;
alter table analytics.query_regressions add column if not exists plan_changed_at timestamptz;
alter table analytics.query_regressions add column if not exists plan_hash_before varchar;
alter table analytics.query_regressions add column if not exists plan_hash_after varchar;
alter table analytics.query_regressions add column if not exists cause varchar;
