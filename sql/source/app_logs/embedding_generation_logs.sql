-- The application's embedding-call log (tokens, latency, errors).
select
    id::text                       as id,
    model::text                    as model,
    token_count::bigint            as token_count,
    generation_time_ms::float8     as generation_time_ms,
    textsend(error)                as error,
    created_at                     as created_at
from {table}
where {filter}
