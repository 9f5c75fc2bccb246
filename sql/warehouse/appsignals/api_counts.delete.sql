-- The buckets a load of usage.api-counts covers. Parameters: $project, $interval, $lo, $hi.
delete from raw.api_counts
where project = $project and interval_name = $interval and bucket_at between $lo and $hi
