-- The application's embedding-call log (tokens, latency, errors). The design document's table has
-- no model column; columns a project's table lacks arrive as NULL (see query_performance_logs.sql).
select
    {cols[id]}::text                        as id,
    {cols[model]}::text                     as model,
    {cols[token_count]}::bigint             as token_count,
    {cols[generation_time_ms]}::float8      as generation_time_ms,
    textsend({cols[error]}::text)           as error,
    {cols[created_at]}                      as created_at
from {table}
where {filter}
