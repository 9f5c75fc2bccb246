-- Markdown preview for cost/monthly_cost_report: the latest month in the range by line item.
select strftime(month, '%Y-%m') as month, line_item, round(sum(cost_usd), 2) as cost_usd,
       round(sum(projected_cost_usd), 2) as projected_cost_usd, min(status) as status
from cost.monthly_cost_report
where month = (select max(month) from cost.monthly_cost_report where month between $first_month and $last_month)
group by all
order by projected_cost_usd desc nulls last, line_item
