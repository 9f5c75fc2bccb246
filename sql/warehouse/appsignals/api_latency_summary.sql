-- analytics.api_latency_summary: per project, service, method, endpoint pattern and UTC hour.
-- Parameters: $project, $since (first hour recomputed; the caller deletes hours >= $since).
-- Hours are computed from epoch seconds so they are UTC whatever the session time zone.
with req as (
    select
        analytics.api_service(path) as service,
        method,
        analytics.api_endpoint(path) as endpoint,
        to_timestamp(floor(epoch(requested_at) / 3600) * 3600) as hour_bucket,
        status_code,
        response_time_ms
    from raw.api_request_logs
    where project = $project and requested_at >= $since
)
select
    $project as project,
    service,
    method,
    endpoint,
    hour_bucket,
    count(*) as requests,
    count_if(status_code between 400 and 499) as errors_4xx,
    count_if(status_code >= 500) as errors_5xx,
    count_if(status_code >= 500) / count(*) as error_rate_5xx,
    avg(response_time_ms) as mean_ms,
    quantile_cont(response_time_ms, 0.5) as p50_ms,
    quantile_cont(response_time_ms, 0.95) as p95_ms,
    quantile_cont(response_time_ms, 0.99) as p99_ms,
    max(response_time_ms) as max_ms
from req
group by all
