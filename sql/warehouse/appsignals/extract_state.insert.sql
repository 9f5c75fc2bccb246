-- Second half of moving a high-water mark. Parameters: $project, $source_table, $hwm, $total, $now.
insert into raw.extract_state (project, source_table, high_water_mark, rows_loaded_total, updated_at)
values ($project, $source_table, $hwm, $total, $now)
