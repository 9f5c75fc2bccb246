-- analytics.api_recommendations: the slowest and the most failing endpoints of the last
-- $window_hours, one finding per (service, method, endpoint) above a threshold.
--   api_slow_endpoint  : p95 response time > $p95_ms_threshold and requests >= $min_requests
--   api_error_endpoint : 5xx share > $error_rate_5xx_threshold and requests >= $min_requests
-- id = md5(project|name|service|method|endpoint), stable across runs; first_seen is kept from the
-- previous run's row with the same id (the caller stages this SELECT before deleting).
-- impact: slow = 3 + 2*log2(p95 / threshold), errors = 4 + 10 * 5xx share, both capped at 10.
-- Parameters: $project, $as_of, $window_hours, $p95_ms_threshold, $error_rate_5xx_threshold, $min_requests.
with req as (
    select analytics.api_service(path) as service, method, analytics.api_endpoint(path) as endpoint,
           status_code, response_time_ms
    from raw.api_request_logs
    where project = $project
      and requested_at >= $as_of - to_hours(cast($window_hours as bigint))
      and requested_at < $as_of
),
agg as (
    select service, method, endpoint,
           count(*) as requests,
           count_if(status_code >= 500) as errors_5xx,
           count_if(status_code between 400 and 499) as errors_4xx,
           count_if(status_code >= 500) / count(*) as error_rate_5xx,
           quantile_cont(response_time_ms, 0.5) as p50_ms,
           quantile_cont(response_time_ms, 0.95) as p95_ms,
           quantile_cont(response_time_ms, 0.99) as p99_ms
    from req group by all
    having count(*) >= $min_requests
),
findings as (
    select 'api_slow_endpoint' as name, 'api' as category,
           case when p95_ms > 4 * $p95_ms_threshold then 'critical' else 'warning' end as level,
           'Slow API endpoint ' || coalesce(method, '') || ' ' || endpoint as title,
           coalesce(method, '') || ' ' || endpoint || ' (' || service || '): p95 ' || round(p95_ms)::bigint
               || ' ms over ' || requests || ' requests in the last ' || $window_hours
               || ' h (threshold ' || $p95_ms_threshold || ' ms; p50 ' || round(p50_ms)::bigint || ' ms, p99 '
               || round(p99_ms)::bigint || ' ms). For rest endpoints, look at the slow queries and '
               || 'missing indexes of the table or function behind it.' as detail,
           least(10, greatest(1, round(3 + 2 * log2(p95_ms / $p95_ms_threshold))))::integer as impact,
           *
    from agg where p95_ms > $p95_ms_threshold
    union all by name
    select 'api_error_endpoint' as name, 'api' as category,
           case when error_rate_5xx >= 0.5 then 'critical' else 'warning' end as level,
           'Failing API endpoint ' || coalesce(method, '') || ' ' || endpoint as title,
           coalesce(method, '') || ' ' || endpoint || ' (' || service || '): ' || errors_5xx || ' of ' || requests
               || ' requests answered 5xx (' || round(100 * error_rate_5xx, 1) || '%) in the last '
               || $window_hours || ' h (threshold ' || round(100 * $error_rate_5xx_threshold, 1) || '%).' as detail,
           least(10, greatest(1, round(4 + 10 * error_rate_5xx)))::integer as impact,
           *
    from agg where error_rate_5xx > $error_rate_5xx_threshold
),
keyed as (
    select *, service || ':' || coalesce(method, '') || ':' || endpoint as object_key,
           md5($project || '|' || name || '|' || service || '|' || coalesce(method, '') || '|' || endpoint) as id
    from findings
)
select
    $project as project, k.id, k.name, k.category, k.level, k.title, k.detail,
    null::varchar as remediation_sql, k.impact, 3 as effort,
    k.service as object_schema, k.endpoint as object_name, k.object_key,
    coalesce(prev.first_seen, $as_of) as first_seen, $as_of as last_seen,
    json_object('service', k.service, 'method', k.method, 'endpoint', k.endpoint, 'requests', k.requests,
                'errors_4xx', k.errors_4xx, 'errors_5xx', k.errors_5xx, 'error_rate_5xx', k.error_rate_5xx,
                'p50_ms', k.p50_ms, 'p95_ms', k.p95_ms, 'p99_ms', k.p99_ms,
                'window_hours', $window_hours) as metadata
from keyed k
left join analytics.api_recommendations prev on prev.project = $project and prev.id = k.id
order by k.impact desc, k.requests desc
