-- Data quality: raw.query_performance_logs rows missing the keys that join them to their text
-- and fingerprint (query_hash, text_hash). Parameters: $project. value = number of bad rows.
select
    count(*) filter (where query_hash is null or text_hash is null) as value,
    count(*) as rows_checked
from raw.query_performance_logs
where project = $project
