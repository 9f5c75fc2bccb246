-- The application's slow-query log. query_text travels as raw bytes (textsend) so text that is not
-- valid UTF-8 reaches the warehouse's quarantine instead of failing the whole transfer.
-- {table} is the quoted log table, {filter} the incremental predicate on created_at.
select
    id                           as id,
    query_hash::text             as query_hash,
    textsend(query_text)         as query_text,
    execution_time_ms::float8    as execution_time_ms,
    rows_returned::bigint        as rows_returned,
    rows_examined::bigint        as rows_examined,
    index_usage::text            as index_usage,
    user_id                      as user_id,
    organization_id              as organization_id,
    created_at                   as created_at
from {table}
where {filter}
