-- Rows a derivation owns for one project (row-count metadata); {table} is one of this domain's
-- analytics tables, chosen by the code, never by config. Parameters: $project.
select count(*) from analytics.{table} where project = $project
