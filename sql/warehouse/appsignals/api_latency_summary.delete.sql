-- The summary hours a run recomputes. Parameters: $project, $since.
delete from analytics.api_latency_summary where project = $project and hour_bucket >= $since
