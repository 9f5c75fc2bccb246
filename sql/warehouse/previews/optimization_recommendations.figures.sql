-- Figures for analytics/optimization_recommendations: open findings by level. Parameter: $project.
select count(*) as recommendations,
       count(*) filter (where level = 'critical') as critical,
       count(*) filter (where level = 'warning') as warnings
from analytics.optimization_recommendations where project = $project
