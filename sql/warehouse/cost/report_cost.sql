-- The `report cost` command: one month's invoice lines per organization, then a total line.
-- missing_days / detail say why a line is not 'known' (days never extracted, unknown sources).
with lines as (
    select organization, line_item, usage, unit, included, billable, cost_usd, projected_cost_usd,
           status, missing_days, detail, 0 as is_total
    from cost.monthly_cost_report
    where month = cast($month as date)
      and ($organization is null or organization = $organization)
),
totals as (
    select organization, 'TOTAL' as line_item, null as usage, 'USD' as unit, null as included,
           null as billable, sum(cost_usd) as cost_usd, sum(projected_cost_usd) as projected_cost_usd,
           case when bool_and(status = 'known') then 'known' else 'partial' end as status,
           max(missing_days) as missing_days, null as detail, 1 as is_total
    from lines group by organization
),
all_lines as (select * from lines union all by name select * from totals)
select organization, line_item, round(usage, 4), unit, round(included, 4), round(billable, 4),
       round(cost_usd, 2), round(projected_cost_usd, 2), status, coalesce(missing_days, 0), detail
from all_lines
order by organization, is_total, line_item
