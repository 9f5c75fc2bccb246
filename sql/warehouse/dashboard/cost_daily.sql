-- Dashboard: cost per UTC day and line item over the last 62 days of priced data.
-- project = '*' is the whole fleet (organization rows such as the plan fee included), otherwise
-- one project's own rows. Unknown usage (cost NULL) is left out of the sums and counted instead.
with bounds as (select max(date) as last_day from cost.cost_breakdown_daily)
select coalesce(project, '*') as project, date, line_item,
       round(sum(cost_usd), 4) as cost_usd,
       count(*) filter (where status = 'unknown') as unknown_items
from (
    select project, date, line_item, cost_usd, status
    from cost.cost_breakdown_daily, bounds
    where date > bounds.last_day - interval 62 day and project is not null
    union all
    select null as project, date, line_item, cost_usd, status
    from cost.cost_breakdown_daily, bounds
    where date > bounds.last_day - interval 62 day
)
group by all
order by project, date, line_item
