-- Validated buckets from the registered Arrow batch _counts. Parameters: $project, $interval, $now.
insert into raw.api_counts
    (project, bucket_at, interval_name, rest_requests, auth_requests, storage_requests, realtime_requests, loaded_at)
select distinct on (bucket_at) $project, bucket_at, $interval, rest_requests, auth_requests,
       storage_requests, realtime_requests, $now
from _counts
order by bucket_at
