-- High-water mark and running total of one incremental API extract. Parameters: $project, $source_table.
select high_water_mark, rows_loaded_total
from raw.extract_state
where project = $project and source_table = $source_table
