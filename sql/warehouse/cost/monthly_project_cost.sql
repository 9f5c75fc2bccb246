-- cost.monthly_project_cost: each project's part of its organization's bill, for the cycles
-- $first_month..$last_month. Usage items are the project's own daily costs (its share of the
-- organization's overage, as allocated in cost.cost_breakdown_daily). Organization items are
-- allocated: compute credits by the project's share of the organization's compute cost (credits
-- offset compute), the plan fee evenly over the organization's configured projects.
-- projected_cost_usd scales the running cycle linearly (the report's projection is the exact one).
with
params as (
    select cast($first_month as date) as first_month, cast($last_month as date) as last_month,
           cast($today as date) as today
),
months as (
    select cast(m.month as date) as month, cast(m.month + interval 1 month as date) as next_month,
           datediff('day', m.month, m.month + interval 1 month) as days_in_month
    from params p, generate_series(p.first_month, p.last_month, interval 1 month) as m(month)
),
daily as (
    select d.*, m.month, m.days_in_month
    from cost.cost_breakdown_daily d
    join months m on d.date >= m.month and d.date < m.next_month
),
progress as (
    select organization, month, any_value(days_in_month) as days_in_month,
           count(distinct date) as days_elapsed
    from daily group by organization, month
),
factor as (
    select p.organization, p.month,
           case when (select today from params) >= p.month
                     and (select today from params) < p.month + interval 1 month
                then p.days_in_month * 1.0 / p.days_elapsed else 1.0 end as factor
    from progress p
),
project_items as (
    select organization, month, project, line_item, any_value(unit) as unit,
           case when any_value(aggregation) = 'peak' then max(usage) else sum(usage) end as usage,
           sum(cost_usd) as cost_usd
    from daily where project is not null group by all
),
compute_share as (
    select organization, month, project,
           sum(cost_usd) / nullif(sum(sum(cost_usd)) over (partition by organization, month), 0) as share
    from project_items where line_item like 'compute_hours_%' group by organization, month, project
),
org_items as (
    select d.organization, d.month, d.line_item, sum(d.cost_usd) as cost_usd
    from daily d where d.project is null group by all
),
configured as (
    select organization, project, count(*) over (partition by organization) as n from cost.projects
),
allocated as (
    select oi.organization, oi.month, c.project, oi.line_item, null::double as usage, 'USD' as unit,
           oi.cost_usd * case when oi.line_item = 'compute_credits' then coalesce(cs.share, 0)
                              else 1.0 / c.n end as cost_usd
    from org_items oi
    join configured c on c.organization = oi.organization
    left join compute_share cs
      on cs.organization = oi.organization and cs.month = oi.month and cs.project = c.project
),
all_items as (
    select * from project_items
    union all by name
    select * from allocated
)
select a.organization, a.month, a.project, a.line_item, round(a.usage, 9) as usage, a.unit,
       round(a.cost_usd, 9) as cost_usd, round(a.cost_usd * f.factor, 9) as projected_cost_usd,
       round(sum(a.cost_usd) over (partition by a.organization, a.month, a.project)
           / nullif(sum(a.cost_usd) over (partition by a.organization, a.month), 0), 9) as share_of_org_cost,
       now() as computed_at
from all_items a
join factor f on f.organization = a.organization and f.month = a.month
order by 1, 2, 3, 4
