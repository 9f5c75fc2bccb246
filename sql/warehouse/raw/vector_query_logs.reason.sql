case
    when id is null then 'null_id'
    when try_cast(id as uuid) is null then 'bad_id'
    when created_at is null then 'null_created_at'
    when query_time_ms is not null and (isnan(query_time_ms) or isinf(query_time_ms) or query_time_ms < 0)
        then 'bad_query_time'
end
