-- Figures for analytics/index_impact's materialization: new indexes followed, and the time their
-- statements saved since (statements whose mean time went down). Parameter: $project.
select count(distinct indexrelid) as new_indexes,
       coalesce(sum(saved_ms) filter (where status = 'saved'), 0) as verified_saved_ms
from analytics.index_impact
where project = $project
