-- cost.monthly_cost_report for the billing cycles (calendar months, UTC) $first_month..$last_month.
--
-- Costs are the sums of cost.cost_breakdown_daily, so the invoice and the daily view always agree.
-- usage sums the days, except peak items, which take each project's peak and add the projects up.
-- included comes from the price book entry in force on the cycle's last priced day (hour-based
-- quotas are multiplied by the cycle's hours and, for per-project quotas, by the projects).
-- The plan fee is the whole cycle's fee (prorated by day only where the price changes mid-cycle).
--
-- status is 'known' only when every finished day of the cycle has usage rows and none is unknown;
-- missing_days and detail say which days were never extracted and why items are unknown.
--
-- Projection (only for the cycle that contains $today): additive usage grows linearly to the end
-- of the cycle from the days priced so far (days_elapsed = days with usage rows, so a gap in the daily
-- partitions does not dilute the rate); cycle-quota items are re-priced on the projected usage
-- (whole packages where package-priced); hour-quota and unquoted items scale linearly; peak
-- items stay at their peak; credits cap at the plan's credit. Closed cycles project to their cost.
with
params as (
    select cast($first_month as date) as first_month,
           cast($last_month as date) as last_month,
           cast($today as date) as today
),
months as (
    select cast(m.month as date) as month,
           cast(m.month + interval 1 month as date) as next_month,
           datediff('day', m.month, m.month + interval 1 month) as days_in_month
    from params p, generate_series(p.first_month, p.last_month, interval 1 month) as m(month)
),
daily as (
    select d.*, m.month, m.days_in_month
    from cost.cost_breakdown_daily d
    join months m on d.date >= m.month and d.date < m.next_month
),
-- Coverage: a cycle's finished days (closed cycles: all; the running one: up to yesterday) are
-- expected to have usage rows; a day without any project row was never extracted. Such days
-- make the organization's lines 'partial' (or 'unknown'), never 'known' with unknown_days 0.
expected_days as (
    select o.organization, m.month, cast(d.day as date) as day
    from cost.organizations o
    cross join months m
    cross join params p
    cross join generate_series(m.month, m.next_month - interval 1 day, interval 1 day) as d(day)
    where cast(d.day as date) < p.today
),
covered_days as (
    select distinct organization, month, date as day from daily where project is not null
),
missing as (
    select e.organization, e.month, e.day,
           e.day - cast(row_number() over (partition by e.organization, e.month order by e.day) as integer)
               as island
    from expected_days e
    anti join covered_days c on c.organization = e.organization and c.month = e.month and c.day = e.day
),
missing_ranges as (
    select organization, month, island, min(day) as first_day, max(day) as last_day, count(*) as n
    from missing group by all
),
coverage as (
    select organization, month, cast(sum(n) as integer) as missing_days,
           cast(sum(n) as integer) || ' day(s) with no usage extracted: '
               || string_agg(case when first_day = last_day then strftime(first_day, '%Y-%m-%d')
                                  else strftime(first_day, '%Y-%m-%d') || '..' || strftime(last_day, '%Y-%m-%d')
                             end, ', ' order by first_day) as missing_detail
    from missing_ranges group by organization, month
),
covered_count as (
    select organization, month, count(*) as days from covered_days group by all
),
org_progress as (
    -- days_elapsed counts days with usage rows, so a gap does not dilute the projection's rate
    select d.organization, d.month, any_value(d.days_in_month) as days_in_month,
           coalesce(any_value(cc.days), 0) as days_elapsed, max(d.date) as last_day
    from daily d
    left join covered_count cc on cc.organization = d.organization and cc.month = d.month
    group by d.organization, d.month
),
per_project as (
    select organization, month, project, line_item, any_value(unit) as unit,
           any_value(aggregation) as aggregation,
           case when any_value(aggregation) = 'peak' then max(usage) else sum(usage) end as usage,
           sum(billable_usage) as billable, sum(cost_usd) as cost_usd,
           count(distinct date) filter (where status = 'known') as known_days,
           count(distinct date) filter (where status <> 'known') as unknown_days,
           string_agg(distinct detail, '; ' order by detail) filter (where status <> 'known') as detail
    from daily
    where line_item <> 'plan_fee'
    group by all
),
per_org as (
    select organization, month, line_item, any_value(unit) as unit, any_value(aggregation) as aggregation,
           sum(usage) as usage, sum(billable) as billable, sum(cost_usd) as cost_usd,
           max(known_days) as known_days, max(unknown_days) as unknown_days,
           count(distinct project) as projects,
           string_agg(distinct detail, '; ' order by detail) as detail
    from per_project group by all
),
with_price as (
    select po.*, o.plan, op.days_in_month, op.days_elapsed,
           pb.price_usd, pb.per_quantity, pb.rounding, pb.included as included_raw,
           pb.included_basis, pb.quota_scope
    from per_org po
    join cost.organizations o on o.organization = po.organization
    join org_progress op on op.organization = po.organization and op.month = po.month
    left join cost.price_book pb
      on pb.line_item = po.line_item
     and pb.kind = 'usage'
     and o.plan is not null
     and pb.plan in (o.plan, '*')
     and pb.organization in (po.organization, '*')
     and pb.effective_from <= op.last_day
     and (pb.effective_to is null or op.last_day < pb.effective_to)
    qualify row_number() over (
        partition by po.organization, po.month, po.line_item
        order by (pb.organization <> '*') desc nulls last, (pb.plan <> '*') desc nulls last) = 1
),
usage_items as (
    select *,
           case when quota_scope is null or quota_scope = 'none' then 0
                when included_basis = 'hour'
                    then included_raw * 24 * days_in_month
                         * case when quota_scope = 'project' then projects else 1 end
                else included_raw end as included,
           (select p.today from params p) >= month
               and (select p.today from params p) < month + interval 1 month as is_running,
           case when aggregation = 'peak' then usage
                else usage * days_in_month / nullif(days_elapsed, 0) end as projected_usage_running
    from with_price
),
usage_projected as (
    select *,
           case when not is_running then usage else projected_usage_running end as projected_usage,
           case when not is_running then cost_usd
                when line_item = 'compute_credits' then null  -- filled below
                when cost_usd is null then null
                when quota_scope = 'organization' and included_basis = 'cycle' and rounding = 'packages_up'
                    then ceil(round(greatest(projected_usage_running - included, 0) / per_quantity, 9)) * price_usd
                when quota_scope = 'organization' and included_basis = 'cycle'
                    then greatest(projected_usage_running - included, 0) / per_quantity * price_usd
                else cost_usd * days_in_month / nullif(days_elapsed, 0)
           end as projected_cost_usd
    from usage_items
),
compute_projection as (
    select organization, month, sum(projected_cost_usd) as projected_compute
    from usage_projected where line_item like 'compute_hours_%' group by all
),
credit_cap as (
    select d.organization, d.month, max(d.price_usd) filter (where d.date = op.last_day) as credit
    from daily d join org_progress op using (organization, month)
    where d.line_item = 'compute_credits' group by all
),
plan_fee as (
    -- the whole cycle's fee, whatever days have been priced so far
    select o.organization, m.month, m.days_in_month, o.plan, pb.price_usd / m.days_in_month as fee
    from cost.organizations o
    cross join months m
    cross join generate_series(m.month, m.next_month - interval 1 day, interval 1 day) as d(day)
    join cost.price_book pb
      on pb.kind = 'plan_fee'
     and o.plan is not null
     and pb.plan in (o.plan, '*')
     and pb.organization in (o.organization, '*')
     and pb.effective_from <= cast(d.day as date)
     and (pb.effective_to is null or cast(d.day as date) < pb.effective_to)
    qualify row_number() over (
        partition by o.organization, m.month, d.day
        order by (pb.organization <> '*') desc, (pb.plan <> '*') desc) = 1
),
plan_fee_rows as (
    select organization, month, 'plan_fee' as line_item, 1.0 as usage, 'month' as unit,
           0.0 as included, 1.0 as billable, sum(fee) as cost_usd, 1.0 as projected_usage,
           sum(fee) as projected_cost_usd, 'known' as status,
           any_value(days_in_month) as known_days, 0 as unknown_days,
           any_value(days_in_month) as days_in_month, any_value(plan) as plan
    from plan_fee group by organization, month
),
no_plan_rows as (
    -- no plan configured: the daily table's unknown plan-fee line, never a fee
    select d.organization, d.month, 'plan_fee' as line_item, null::double as usage, 'month' as unit,
           null::double as included, null::double as billable, null::double as cost_usd,
           null::double as projected_usage, null::double as projected_cost_usd, 'unknown' as status,
           0 as known_days, count(distinct d.date) as unknown_days, any_value(d.days_in_month) as days_in_month,
           null as plan, any_value(d.detail) as detail
    from daily d
    join cost.organizations o on o.organization = d.organization
    where d.line_item = 'plan_fee' and d.project is null and o.plan is null
    group by d.organization, d.month
),
not_extracted_rows as (
    -- an organization with finished days in the cycle but no usage at all: one explicit line
    -- instead of an invoice that holds only the plan fee and looks complete
    select c.organization, c.month, 'usage_not_extracted' as line_item, null::double as usage,
           null as unit, null::double as included, null::double as billable, null::double as cost_usd,
           null::double as projected_usage, null::double as projected_cost_usd, 'unknown' as status,
           0 as known_days, 0 as unknown_days, m.days_in_month, o.plan,
           c.missing_days, c.missing_detail as detail
    from coverage c
    join months m on m.month = c.month
    join cost.organizations o on o.organization = c.organization
    where not exists (select 1 from covered_days d where d.organization = c.organization and d.month = c.month)
)
-- rounded to 1e-9 so re-runs give identical rows whatever order parallel sums took
select u.organization, u.month, u.line_item, round(u.usage, 9) as usage, u.unit, u.included,
       round(u.billable, 9) as billable, round(u.cost_usd, 9) as cost_usd,
       round(u.projected_usage, 9) as projected_usage,
       round(case when u.line_item = 'compute_credits'
                then case when not u.is_running then u.cost_usd
                          else -least(coalesce(cc.credit, 0), greatest(coalesce(cp.projected_compute, 0), 0)) end
            else u.projected_cost_usd end, 9) as projected_cost_usd,
       case when u.unknown_days = 0 and coalesce(cov.missing_days, 0) = 0 then 'known'
            when u.known_days = 0 then 'unknown' else 'partial' end as status,
       u.known_days, u.unknown_days, u.days_in_month, u.plan, now() as computed_at,
       coalesce(cov.missing_days, 0) as missing_days,
       nullif(concat_ws('; ', u.detail, cov.missing_detail), '') as detail
from usage_projected u
left join compute_projection cp on cp.organization = u.organization and cp.month = u.month
left join credit_cap cc on cc.organization = u.organization and cc.month = u.month
left join coverage cov on cov.organization = u.organization and cov.month = u.month
union all
select f.organization, f.month, f.line_item, f.usage, f.unit, f.included, f.billable, round(f.cost_usd, 9),
       f.projected_usage, round(f.projected_cost_usd, 9), f.status, f.known_days, f.unknown_days,
       f.days_in_month, f.plan, now(), coalesce(cov.missing_days, 0), null
from plan_fee_rows f
left join coverage cov on cov.organization = f.organization and cov.month = f.month
union all
select f.organization, f.month, f.line_item, f.usage, f.unit, f.included, f.billable, f.cost_usd,
       f.projected_usage, f.projected_cost_usd, f.status, f.known_days, f.unknown_days, f.days_in_month,
       f.plan, now(), coalesce(cov.missing_days, 0), f.detail
from no_plan_rows f
left join coverage cov on cov.organization = f.organization and cov.month = f.month
union all
select organization, month, line_item, usage, unit, included, billable, cost_usd, projected_usage,
       projected_cost_usd, status, known_days, unknown_days, days_in_month, plan, now(), missing_days, detail
from not_extracted_rows
order by 1, 2, 3
