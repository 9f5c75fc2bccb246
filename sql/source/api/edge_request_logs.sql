-- API requests of one time window from the project's edge logs (Logflare / BigQuery dialect of the
-- Management API endpoint /v1/projects/{ref}/analytics/endpoints/logs.all). The window itself is
-- passed as iso_timestamp_start / iso_timestamp_end (at most 24 hours); {row_limit} caps the
-- answer, and a window that comes back full is split and read again in halves.
select
  id,
  timestamp,
  request.method as method,
  request.path as path,
  response.status_code as status_code,
  response.origin_time as response_time_ms
from edge_logs
  cross join unnest(metadata) as m
  cross join unnest(m.request) as request
  cross join unnest(m.response) as response
order by timestamp asc
limit {row_limit}
