-- Dashboard: the latest billing month's cost so far and its month-end projection, per line item.
-- project = '*' is the fleet (every organization's invoice); otherwise a project's allocation.
-- The latest reported month is not always the running one (no report yet this month), and a
-- month may be incomplete (days never extracted, unknown items): `month` and `complete` let the
-- page label the figure with what it is, never "this month" for last month's numbers.
with last_month as (select max(month) as month from cost.monthly_cost_report),
org_state as (
    select r.organization, bool_and(r.status = 'known') as complete,
           max(coalesce(r.missing_days, 0)) as missing_days
    from cost.monthly_cost_report r join last_month m on r.month = m.month
    group by all
)
select '*' as project, r.month, r.line_item,
       round(sum(r.cost_usd), 2) as cost_usd,
       round(sum(r.projected_cost_usd), 2) as projected_cost_usd,
       bool_and(s.complete) as complete, max(s.missing_days) as missing_days
from cost.monthly_cost_report r join last_month m on r.month = m.month
join org_state s on s.organization = r.organization
group by all
union all
select p.project, p.month, p.line_item,
       round(sum(p.cost_usd), 2), round(sum(p.projected_cost_usd), 2),
       bool_and(s.complete), max(s.missing_days)
from cost.monthly_project_cost p join last_month m on p.month = m.month
join org_state s on s.organization = p.organization
group by all
order by project, projected_cost_usd desc nulls last
