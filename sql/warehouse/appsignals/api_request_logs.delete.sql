-- The rows of one [start, end) window, replaced as a whole. Parameters: $project, $start, $end.
delete from raw.api_request_logs
where project = $project and requested_at >= $start and requested_at < $end
