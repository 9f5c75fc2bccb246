-- cost.query_cost_daily for $start_date..$end_date: each project-day's compute cost (before
-- organization credits, which are not a property of a query) attributed to the statements that
-- ran that day, by their share of execution time in analytics.pg_stat_statements_deltas.
-- An interval is counted on the UTC day its closing snapshot was taken. monthly_cost_usd is
-- the day's cost times the days in that month: "at this rate, this query costs $X a month".
with
params as (select cast($start_date as date) as start_date, cast($end_date as date) as end_date),
compute as (
    select project, organization, date, sum(cost_usd) as compute_cost
    from cost.cost_breakdown_daily, params p
    where line_item like 'compute_hours_%' and status = 'known' and project is not null
      and date between p.start_date and p.end_date
    group by all
),
per_query as (
    select d.project, cast(timezone('UTC', d.snapshot_at) as date) as date, d.dbid, d.queryid,
           any_value(d.fingerprint) as fingerprint, any_value(d.query_preview) as query_preview,
           sum(d.calls) as calls, sum(d.total_exec_time_ms) as exec_time_ms
    from analytics.pg_stat_statements_deltas d, params p
    where cast(timezone('UTC', d.snapshot_at) as date) between p.start_date and p.end_date
      and d.total_exec_time_ms > 0
    group by all
),
shares as (
    select *, exec_time_ms / sum(exec_time_ms) over (partition by project, date) as share
    from per_query
)
select s.project, c.organization, s.date, s.dbid, s.queryid, s.fingerprint, s.query_preview,
       s.calls, s.exec_time_ms, s.share as share_of_exec_time,
       c.compute_cost * s.share as compute_cost_usd,
       c.compute_cost * s.share
           * datediff('day', date_trunc('month', s.date), date_trunc('month', s.date) + interval 1 month)
           as monthly_cost_usd,
       now() as computed_at
from shares s
join compute c on c.project = s.project and c.date = s.date
order by s.project, s.date, compute_cost_usd desc
