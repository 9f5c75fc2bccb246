case
    when id is null then 'null_id'
    when try_cast(id as uuid) is null then 'bad_id'
    when created_at is null then 'null_created_at'
    when octet_length(message) + coalesce(octet_length(stack), 0) > $max_text_bytes then 'text_too_large'
    when (message is not null and try(decode(message)) is null)
      or (stack is not null and try(decode(stack)) is null) then 'invalid_utf8'
end
