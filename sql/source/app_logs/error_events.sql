-- The application's error events (the design document's ErrorEvent). Columns a project's table
-- lacks arrive as NULL (see query_performance_logs.sql).
select
    {cols[id]}::text                        as id,
    {cols[name]}::text                      as name,
    textsend({cols[message]}::text)         as message,
    textsend({cols[stack]}::text)           as stack,
    {cols[severity]}::text                  as severity,
    {cols[context]}::text                   as context,
    {cols[user_agent]}::text                as user_agent,
    {cols[url]}::text                       as url,
    {cols[created_at]}                      as created_at
from {table}
where {filter}
