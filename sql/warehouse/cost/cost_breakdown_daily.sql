-- cost.cost_breakdown_daily for the days $start_date..$end_date (inclusive), as Supabase bills:
--
-- * usage comes from raw.usage_daily, mapped to line items (metric_map below);
-- * each day is priced with the price book entry in force on that day, for the organization's
--   plan (an organization-specific entry wins over '*', a plan-specific one over '*');
-- * quotas are per organization (or per project) per billing cycle (calendar month, UTC). A day's
--   cost is the overage accrued that day: billable through the day minus billable through the day
--   before, where billable = max(0, cycle-to-date usage - included). Package-priced items charge
--   whole packages, rounded up, of the cycle-to-date overage. Quotas given per hour (disk 8 GB per
--   project, storage 100 GB per organization) apply hour by hour: a day includes 24 x included;
-- * peak items (realtime peak connections) count the increase of each project's running peak in
--   the cycle, so the cycle adds up to the sum of the projects' peaks;
-- * the organization's share of a day's overage is allocated to projects by their usage that day;
-- * compute credits offset compute cost cycle-to-date up to the plan's credit; the plan fee is
--   prorated per day. Both are organization rows with project NULL;
-- * a source that could not be read (status 'unknown') yields an unknown row, never a zero cost,
--   with the reasons raw.usage_daily recorded (`detail`);
-- * an organization without a plan (cost.organizations.plan NULL) is not priced at all: its items
--   are unknown with 'no plan configured', and its plan fee is one unknown line, never a fee.
--
-- The cycle-to-date sums start at the cycle of $start_date, so the first days of the range are
-- priced with the usage of earlier days of their cycle already counted.
with
params as (
    select cast($start_date as date) as start_date,
           cast($end_date as date) as end_date,
           cast(date_trunc('month', cast($start_date as date)) as date) as cycle_start
),
no_plan(detail) as (
    values ('no plan configured (set the organization''s plan in the projects file, or SUPABASE_PLAN): '
            || 'not priced as a Supabase project')
),
metric_map(metric, line_item, append_dimension, factor, unit, aggregation) as (
    values
        ('compute_hours', 'compute_hours_', true, 1.0, 'hour', 'sum'),
        ('disk_gb_hours', 'disk_gb_hours_', true, 1.0, 'GB-hour', 'sum'),
        ('egress_gb', 'egress', false, 1.0, 'GB', 'sum'),
        ('cached_egress_gb', 'cached_egress', false, 1.0, 'GB', 'sum'),
        ('mau', 'mau', false, 1.0, 'users', 'sum'),
        ('sso_mau', 'sso_mau', false, 1.0, 'users', 'sum'),
        ('storage_size_bytes', 'storage_gb_hours', false, 24.0 / 1e9, 'GB-hour', 'sum'),
        ('function_invocations', 'function_invocations', false, 1.0, 'invocations', 'sum'),
        ('realtime_messages', 'realtime_messages', false, 1.0, 'messages', 'sum'),
        ('realtime_peak_connections', 'realtime_peak_connections', false, 1.0, 'connections', 'peak'),
        ('image_transformations', 'image_transformations', false, 1.0, 'images', 'sum'),
        ('addon_hours', 'addon_', true, 1.0, 'hour', 'sum')
),
usage as (
    select u.project,
           u.organization,
           u.usage_date as date,
           case when m.append_dimension then m.line_item || u.dimension else m.line_item end as line_item,
           any_value(m.unit) as unit,
           any_value(m.aggregation) as aggregation,
           sum(u.usage * m.factor) filter (where u.status = 'known') as usage,
           bool_or(u.status <> 'known') as any_unknown,
           string_agg(distinct u.source, ',' order by u.source) as source,
           string_agg(distinct u.detail, '; ' order by u.detail) filter (where u.status <> 'known') as unknown_detail
    from raw.usage_daily u
    join metric_map m on m.metric = u.metric
    cross join params p
    where u.usage_date between p.cycle_start and p.end_date
    group by all
),
quota_usage as (
    -- what counts against the quota: the day's usage, or for peak items the rise of the
    -- project's running peak within the cycle
    select *,
           case when any_unknown then 0
                when aggregation = 'peak' then greatest(
                    usage - coalesce(max(case when any_unknown then null else usage end) over (
                        partition by project, line_item, date_trunc('month', date)
                        order by date rows between unbounded preceding and 1 preceding), 0), 0)
                else usage end as q
    from usage
),
priced as (
    select q.*, o.plan,
           pb.price_usd, pb.per_quantity, pb.rounding, pb.included, pb.included_basis,
           pb.quota_scope, pb.effective_from as price_effective_from,
           case when pb.quota_scope = 'project' then q.project else q.organization end as scope_key
    from quota_usage q
    join cost.organizations o on o.organization = q.organization
    left join cost.price_book pb
      on pb.line_item = q.line_item
     and pb.kind = 'usage'
     and o.plan is not null  -- no plan configured: nothing is priced (not even '*' entries)
     and pb.plan in (o.plan, '*')
     and pb.organization in (q.organization, '*')
     and pb.effective_from <= q.date
     and (pb.effective_to is null or q.date < pb.effective_to)
    qualify row_number() over (
        partition by q.project, q.line_item, q.date
        order by (pb.organization <> '*') desc, (pb.plan <> '*') desc) = 1
),
scope_day as (
    select organization, scope_key, line_item, date,
           sum(q) as day_q,
           any_value(price_usd) as price_usd, any_value(per_quantity) as per_quantity,
           any_value(rounding) as rounding, any_value(included) as included,
           any_value(included_basis) as included_basis, any_value(quota_scope) as quota_scope
    from priced
    where price_usd is not null
    group by all
),
scope_cum as (
    select *,
           sum(day_q) over (partition by scope_key, line_item, date_trunc('month', date)
                            order by date rows between unbounded preceding and current row) as cum_q
    from scope_day
),
scope_billable as (
    select *,
           case when quota_scope = 'none' then day_q
                when included_basis = 'hour' then greatest(day_q - included * 24, 0)
                else greatest(cum_q - included, 0) - greatest(cum_q - day_q - included, 0)
           end as day_billable,
           greatest(cum_q - included, 0) as cum_billable
    from scope_cum
),
scope_cost as (
    select *,
           case when rounding = 'packages_up' and quota_scope <> 'none' and included_basis = 'cycle'
                    then (ceil(round(cum_billable / per_quantity, 9))
                          - ceil(round((cum_billable - day_billable) / per_quantity, 9))) * price_usd
                when rounding = 'packages_up'
                    then ceil(round(day_billable / per_quantity, 9)) * price_usd
                else day_billable / per_quantity * price_usd
           end as day_cost
    from scope_billable
),
project_rows as (
    select p.project, p.organization, p.date, p.line_item,
           case when p.any_unknown then null else p.usage end as usage,
           p.unit,
           case when p.any_unknown or p.price_usd is null then null
                when s.day_q > 0 then s.day_billable * p.q / s.day_q else 0 end as billable_usage,
           case when p.any_unknown or p.price_usd is null then null
                when s.day_q > 0 then s.day_cost * p.q / s.day_q else 0 end as cost_usd,
           case when p.any_unknown or p.price_usd is null then 'unknown' else 'known' end as status,
           p.aggregation,
           case when p.price_usd is null and not p.any_unknown and p.plan is null then p.source || ' (no plan configured)'
                when p.price_usd is null and not p.any_unknown then p.source || ' (no price book entry)'
                else p.source end as source,
           case when p.any_unknown then coalesce(p.unknown_detail, 'usage unknown')
                when p.price_usd is null and p.plan is null then (select detail from no_plan)
                when p.price_usd is null then 'no price book entry for this line item and plan' end as detail,
           p.plan, p.price_usd, p.per_quantity, p.price_effective_from
    from priced p
    left join scope_cost s
      on s.scope_key = p.scope_key and s.line_item = p.line_item and s.date = p.date
),
org_days as (
    select o.organization, o.plan, cast(d.day as date) as date,
           datediff('day', date_trunc('month', cast(d.day as date)),
                    date_trunc('month', cast(d.day as date)) + interval 1 month) as days_in_month
    from cost.organizations o
    cross join params p
    cross join generate_series(p.cycle_start, p.end_date, interval 1 day) as d(day)
),
org_priced as (
    select od.*, pb.kind, pb.price_usd, pb.effective_from as price_effective_from
    from org_days od
    join cost.price_book pb
      on pb.kind in ('plan_fee', 'compute_credit')
     and od.plan is not null
     and pb.plan in (od.plan, '*')
     and pb.organization in (od.organization, '*')
     and pb.effective_from <= od.date
     and (pb.effective_to is null or od.date < pb.effective_to)
    qualify row_number() over (
        partition by od.organization, od.date, pb.kind
        order by (pb.organization <> '*') desc, (pb.plan <> '*') desc) = 1
),
compute_cost as (
    select organization, date, sum(cost_usd) as cost
    from project_rows
    where line_item like 'compute_hours_%' and status = 'known'
    group by all
),
credits as (
    select op.organization, op.date, op.price_usd as credit, op.plan, op.price_effective_from,
           coalesce(c.cost, 0) as day_compute,
           sum(coalesce(c.cost, 0)) over (partition by op.organization, date_trunc('month', op.date)
                                          order by op.date rows between unbounded preceding and current row)
               as cum_compute
    from org_priced op
    left join compute_cost c on c.organization = op.organization and c.date = op.date
    where op.kind = 'compute_credit'
),
org_rows as (
    select null as project, organization, date, 'plan_fee' as line_item,
           1.0 / days_in_month as usage, 'month' as unit, 1.0 / days_in_month as billable_usage,
           price_usd / days_in_month as cost_usd, 'known' as status, 'sum' as aggregation,
           'price_book' as source, null as detail, plan, price_usd, 1.0 as per_quantity, price_effective_from
    from org_priced
    where kind = 'plan_fee'
    union all
    select null, organization, date, 'compute_credits',
           least(credit, cum_compute) - least(credit, cum_compute - day_compute), 'USD',
           least(credit, cum_compute) - least(credit, cum_compute - day_compute),
           -(least(credit, cum_compute) - least(credit, cum_compute - day_compute)),
           'known', 'sum', 'price_book', null, plan, credit, 1.0, price_effective_from
    from credits
    union all
    -- an organization without a plan (a database that is not on Supabase, or a plan not given):
    -- no invented plan fee, one unknown line that says why
    select null, organization, date, 'plan_fee', null, 'month', null, null, 'unknown', 'sum',
           'config', (select detail from no_plan), null, null, 1.0, null
    from org_days
    where plan is null
)
-- rounded to 1e-9 so re-runs give identical rows whatever order parallel sums took
select r.project, r.organization, r.date, r.line_item, round(r.usage, 9) as usage, r.unit,
       round(r.billable_usage, 9) as billable_usage, round(r.cost_usd, 9) as cost_usd,
       r.status, r.aggregation, r.source, r.detail, r.plan, r.price_usd, r.per_quantity, r.price_effective_from,
       now() as computed_at
from (select * from project_rows union all by name select * from org_rows) r
cross join params p
where r.date between p.start_date and p.end_date
order by r.organization, r.date, r.project nulls first, r.line_item
