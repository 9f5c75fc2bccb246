-- Markdown preview for cost/cost_breakdown_daily: the range's cost by line item, fleet-wide.
-- Parameters: $start_date, $end_date.
select line_item, round(sum(cost_usd), 2) as cost_usd, round(sum(usage), 2) as usage, min(unit) as unit,
       count(*) filter (where status = 'unknown') as unknown_days
from cost.cost_breakdown_daily where date between $start_date and $end_date
group by line_item
order by sum(cost_usd) desc nulls last, line_item
