-- The application's vector-search log. The design document's table has no table_name; columns a
-- project's table lacks arrive as NULL ({cols[...]}: see query_performance_logs.sql).
select
    {cols[id]}::text                        as id,
    {cols[query_type]}::text                as query_type,
    {cols[table_name]}::text                as table_name,
    {cols[similarity_threshold]}::float8    as similarity_threshold,
    {cols[vector_dimension]}::integer       as vector_dimension,
    {cols[query_time_ms]}::float8           as query_time_ms,
    {cols[result_count]}::bigint            as result_count,
    {cols[index_used]}::boolean             as index_used,
    {cols[created_at]}                      as created_at
from {table}
where {filter}
