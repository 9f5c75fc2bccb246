-- Data quality: rows of the newest raw.query_performance_logs load without the keys that join them
-- to their text and fingerprint (query_hash, text_hash). Parameters: $project. value = number of
-- bad rows; NULL (no data: the rule passes) when the newest load brought no row to check.
-- "Newest load" is the newest load TAKEN (raw.extract_state.updated_at, written by every load,
-- also one that found nothing new): counting every row ever loaded, or the newest load that had
-- rows, would judge a bad batch forever and the alert would never resolve once the source is fixed
-- or quiet. Rows carry their load's time as extracted_at; rows without any load record (loaded
-- before loads were recorded) are all judged.
with latest as (
    select greatest(
        (select max(updated_at) from raw.extract_state
         where project = $project and source_table = 'query_performance_logs'),
        (select max(extracted_at) from raw.query_performance_logs where project = $project)) as ts
)
select
    case when count(l.project) > 0
         then count(l.project) filter (where l.query_hash is null or l.text_hash is null) end as value,
    count(l.project) as rows_checked,
    any_value(latest.ts) as loaded_at
from latest left join raw.query_performance_logs l
    on l.project = $project and (l.extracted_at = latest.ts or latest.ts is null)
