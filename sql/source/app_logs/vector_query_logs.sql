-- The application's vector-search log.
select
    id::text                      as id,
    query_type::text              as query_type,
    table_name::text              as table_name,
    similarity_threshold::float8  as similarity_threshold,
    vector_dimension::integer     as vector_dimension,
    query_time_ms::float8         as query_time_ms,
    result_count::bigint          as result_count,
    index_used                    as index_used,
    created_at                    as created_at
from {table}
where {filter}
