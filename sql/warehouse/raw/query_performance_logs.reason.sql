-- Why a query_performance_logs row cannot be loaded as it is (NULL = it can).
case
    when id is null then 'null_id'
    when try_cast(id as uuid) is null then 'bad_id'
    when created_at is null then 'null_created_at'
    when query_hash is null then 'null_query_hash'
    when execution_time_ms is null then 'null_execution_time'
    -- NaN, infinite, negative, or longer than a year (31 536 000 000 ms): no statement runs that long,
    -- and 1e300 would swamp every sum and mean of the summaries
    when isnan(execution_time_ms) or isinf(execution_time_ms) or execution_time_ms < 0
         or execution_time_ms > 31536000000 then 'bad_execution_time'
    when octet_length(query_text) > $max_text_bytes then 'query_text_too_large'
    when query_text is not null and try(decode(query_text)) is null then 'invalid_utf8'
end
