-- Sequences and how close they are to their maximum (last_value is NULL without privilege).
select
    schemaname::text, sequencename::text, data_type::text,
    last_value::bigint, max_value::bigint, increment_by::bigint, cycle
from pg_sequences
where schemaname not in ('pg_catalog', 'information_schema')
order by schemaname, sequencename
