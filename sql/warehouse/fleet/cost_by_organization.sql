-- Cost by organization and month across the fleet, from the daily per-project breakdown.
-- Parameters: $since (date). One row per organization and month, most expensive first.
-- Organization-level lines (the plan fee) have no project; lines whose price is unknown are
-- counted, not guessed (unknown_lines > 0 means cost_usd is a lower bound).
select organization,
       date_trunc('month', date)::date as month,
       count(distinct project) as projects,
       sum(cost_usd) as cost_usd,
       count(*) filter (where status = 'unknown') as unknown_lines
from cost.cost_breakdown_daily
where date >= $since
group by all
order by month, cost_usd desc
