-- cost.*: Supabase usage turned into money. Column reference: docs/reference/tables.md (descriptions in tables.yaml here).
create schema if not exists cost;

-- The organizations and projects the cost assets price, as configured (settings.py), refreshed by
-- every cost run: plan decides the price book entries, budgets feed the budget check.
create table if not exists cost.organizations (
    organization varchar not null,
    plan varchar,                     -- NULL: no plan configured, nothing priced
    monthly_budget_usd double
);
create table if not exists cost.projects (
    project varchar not null,
    organization varchar not null,
    ref varchar,
    compute_size varchar,
    monthly_budget_usd double
);

-- Dated prices and quotas (sql/seed/price_book.yaml plus the optional overrides file).
create table if not exists cost.price_book (
    line_item varchar not null,
    plan varchar not null,            -- plan or '*'
    organization varchar not null,    -- organization slug or '*'
    effective_from date not null,
    effective_to date,                -- exclusive; NULL while in force
    unit varchar,
    price_usd double not null,
    per_quantity double not null,
    rounding varchar not null,        -- 'none' | 'packages_up'
    included double not null,
    included_basis varchar not null,  -- 'cycle' | 'hour'
    quota_scope varchar not null,     -- 'organization' | 'project' | 'none'
    kind varchar not null,            -- 'usage' | 'plan_fee' | 'compute_credit'
    source varchar not null,          -- file the entry came from
    notes varchar
);

-- One row per project, day and line item. Organization-level items (plan_fee prorated per day,
-- compute_credits) have project NULL. cost_usd is the overage accrued that day after the
-- organization's quota for the billing cycle; NULL when status = 'unknown'.
create table if not exists cost.cost_breakdown_daily (
    project varchar,
    organization varchar not null,
    date date not null,
    line_item varchar not null,
    usage double,
    unit varchar,
    billable_usage double,            -- the part of the organization's overage accrued that day
    cost_usd double,
    status varchar not null,          -- 'known' | 'unknown'
    aggregation varchar,              -- how days add up over a cycle: 'sum' | 'peak' (max per project)
    source varchar,
    detail varchar,                   -- why the item is unknown (raw.usage_daily.detail), else NULL
    plan varchar,
    price_usd double,
    per_quantity double,
    price_effective_from date,
    computed_at timestamptz
);
alter table cost.cost_breakdown_daily add column if not exists detail varchar;

create table if not exists cost.monthly_cost_report (
    organization varchar not null,
    month date not null,              -- first day of the billing cycle (calendar month, UTC)
    line_item varchar not null,
    usage double,
    unit varchar,
    included double,
    billable double,
    cost_usd double,
    projected_usage double,
    projected_cost_usd double,
    status varchar not null,          -- 'known' | 'partial' (some days unknown or not extracted) | 'unknown'
    known_days integer,               -- days priced from known usage
    unknown_days integer,             -- days whose usage was extracted as unknown
    days_in_month integer,
    plan varchar,
    computed_at timestamptz,
    missing_days integer,             -- finished days of the cycle (up to yesterday) with no usage extracted
    detail varchar                    -- why not 'known': the unknown reasons and the days not extracted
);
alter table cost.monthly_cost_report add column if not exists missing_days integer;
alter table cost.monthly_cost_report add column if not exists detail varchar;

create table if not exists cost.monthly_project_cost (
    organization varchar not null,
    month date not null,
    project varchar not null,
    line_item varchar not null,
    usage double,
    unit varchar,
    cost_usd double,
    projected_cost_usd double,
    share_of_org_cost double,
    computed_at timestamptz
);

create table if not exists cost.query_cost_daily (
    project varchar not null,
    organization varchar not null,
    date date not null,
    dbid bigint,
    queryid bigint,
    fingerprint varchar,
    query_preview varchar,
    calls bigint,
    exec_time_ms double,
    share_of_exec_time double,
    compute_cost_usd double,
    monthly_cost_usd double,          -- this query's daily cost x days in the month
    computed_at timestamptz
);
