-- raw.usage_daily: billing usage per project and UTC day, one row per (metric, dimension).
-- Written by the raw/usage_daily asset (daily partitions, all projects of the day in one run);
-- re-running a day replaces that day's rows. A source that could not be read leaves a row with
-- status 'unknown', usage NULL and the reason in `detail`, never a silent zero.
create table if not exists raw.usage_daily (
    project varchar not null,
    organization varchar not null,
    usage_date date not null,
    metric varchar not null,          -- vocabulary in docs/cost.md
    dimension varchar not null,       -- bucket id, compute size, disk type, add-on variant, '' if none
    usage double,                     -- NULL when status = 'unknown'
    unit varchar,
    status varchar not null,          -- 'known' | 'unknown'
    source varchar not null,          -- 'database' | 'management_api' | 'usage_api' | 'config'
    method varchar,                   -- how it was measured (e.g. audit_log, last_sign_in_fallback)
    detail varchar,                   -- why it is unknown, or notes on the measurement
    extracted_at timestamptz
);
