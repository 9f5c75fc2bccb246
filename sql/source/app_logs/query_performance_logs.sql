-- The application's slow-query log. query_text travels as raw bytes (textsend) so text that is not
-- valid UTF-8 reaches the warehouse's quarantine instead of failing the whole transfer.
-- {table} is the quoted log table, {filter} the incremental predicate on created_at. Each
-- {cols[...]} is the quoted column, or NULL when this project's table has no such column (only
-- id and created_at are required); {cols[created_at]} is text when reading rows from the future.
select
    {cols[id]}                              as id,
    {cols[query_hash]}::text                as query_hash,
    textsend({cols[query_text]}::text)      as query_text,
    {cols[execution_time_ms]}::float8       as execution_time_ms,
    {cols[rows_returned]}::bigint           as rows_returned,
    {cols[rows_examined]}::bigint           as rows_examined,
    {cols[index_usage]}::text               as index_usage,
    {cols[user_id]}                         as user_id,
    {cols[organization_id]}                 as organization_id,
    {cols[created_at]}                      as created_at
from {table}
where {filter}
