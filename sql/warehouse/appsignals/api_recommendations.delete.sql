-- The project's API findings, replaced by the staged _api_findings. Parameters: $project.
delete from analytics.api_recommendations where project = $project
