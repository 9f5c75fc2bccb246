case
    when id is null then 'null_id'
    when try_cast(id as uuid) is null then 'bad_id'
    when created_at is null then 'null_created_at'
    when token_count < 0 then 'negative_token_count'
    when generation_time_ms is not null
         and (isnan(generation_time_ms) or isinf(generation_time_ms) or generation_time_ms < 0)
        then 'bad_generation_time'
    when octet_length(error) > $max_text_bytes then 'error_too_large'
    when error is not null and try(decode(error)) is null then 'invalid_utf8'
end
