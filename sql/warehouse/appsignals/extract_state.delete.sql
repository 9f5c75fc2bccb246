-- First half of moving a high-water mark (same transaction as the rows). Parameters: $project, $source_table.
delete from raw.extract_state where project = $project and source_table = $source_table
