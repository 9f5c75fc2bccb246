-- Rejected rows from the registered batch _bad (source_id, reason, row_json, payload).
-- Parameters: $project, $source_table, $now.
insert into raw.quarantine (project, source_table, source_id, reason, row_json, payload, quarantined_at)
select $project, $source_table, source_id, reason, row_json, payload, $now
from _bad
