-- Figures for cost/monthly_cost_report: the latest month in the range, all organizations.
-- Parameters: $first_month, $last_month.
select round(sum(cost_usd), 2) as month_cost_usd, round(sum(projected_cost_usd), 2) as projected_cost_usd
from cost.monthly_cost_report
where month = (select max(month) from cost.monthly_cost_report where month between $first_month and $last_month)
