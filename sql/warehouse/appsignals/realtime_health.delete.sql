-- The project's realtime health rows, recomputed from raw.project_metrics. Parameters: $project.
delete from analytics.realtime_health where project = $project
