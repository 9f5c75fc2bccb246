-- Projected month-end cost against the configured monthly budgets, for the month $month:
-- one row per organization and per project that has a budget (cost.organizations/projects).
select 'organization' as scope, o.organization as name, o.monthly_budget_usd as budget_usd,
       sum(r.cost_usd) as cost_usd, sum(r.projected_cost_usd) as projected_cost_usd
from cost.organizations o
join cost.monthly_cost_report r on r.organization = o.organization and r.month = cast($month as date)
where o.monthly_budget_usd is not null
group by all
union all
select 'project', p.project, p.monthly_budget_usd, sum(c.cost_usd), sum(c.projected_cost_usd)
from cost.projects p
join cost.monthly_project_cost c on c.project = p.project and c.month = cast($month as date)
where p.monthly_budget_usd is not null
group by all
order by 1, 2
