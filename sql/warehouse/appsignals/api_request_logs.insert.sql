-- One window's validated rows from the registered Arrow batch _api_batch (one row per event id).
-- Parameters: $project, $now.
insert into raw.api_request_logs
    (project, id, requested_at, method, path, status_code, response_time_ms, loaded_at)
select distinct on (id) $project, id, requested_at, method, path, status_code, response_time_ms, $now
from _api_batch
order by id
