-- Dashboard: the latest billing month's cost so far and its month-end projection, per line item.
-- project = '*' is the fleet (every organization's invoice); otherwise a project's allocation.
with last_month as (select max(month) as month from cost.monthly_cost_report)
select '*' as project, r.month, r.line_item,
       round(sum(r.cost_usd), 2) as cost_usd,
       round(sum(r.projected_cost_usd), 2) as projected_cost_usd
from cost.monthly_cost_report r join last_month m on r.month = m.month
group by all
union all
select p.project, p.month, p.line_item,
       round(sum(p.cost_usd), 2), round(sum(p.projected_cost_usd), 2)
from cost.monthly_project_cost p join last_month m on p.month = m.month
group by all
order by project, projected_cost_usd desc nulls last
