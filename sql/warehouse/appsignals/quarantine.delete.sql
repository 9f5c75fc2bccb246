-- Earlier quarantine rows for the ids in the registered batch _bad (re-reads replace, never add).
-- Parameters: $project, $source_table.
delete from raw.quarantine
where project = $project and source_table = $source_table
  and source_id in (select source_id from _bad)
