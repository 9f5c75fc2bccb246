-- Figures for analytics/plan_changes's materialization: plan changes recorded, and those whose new
-- plan is slower (mean time after / before above 1). Parameter: $project.
select count(*) as plan_changes, count(*) filter (where mean_time_ratio > 1) as slower_after_change
from analytics.plan_changes
where project = $project
