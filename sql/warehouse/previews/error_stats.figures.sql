-- Figures for analytics/error_stats: totals of the latest windows. Parameter: $project.
select max(error_count) filter (where time_window = '1h') as errors_1h,
       max(error_count) filter (where time_window = '24h') as errors_24h,
       max(errors_per_second) filter (where time_window = '1h') as errors_per_second_1h
from analytics.error_stats
where project = $project and dimension = 'total'
  and window_end = (select max(window_end) from analytics.error_stats where project = $project)
