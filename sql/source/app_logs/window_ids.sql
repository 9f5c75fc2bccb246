-- Ids of the rows stamped inside the overlap window before the high-water mark: the warehouse
-- compares them with what it holds to find late commits. {table} is the quoted log table,
-- {since} and {until} timestamptz literals. Ids travel in their own type (16 bytes for a uuid).
select id
from {table}
where created_at >= {since} and created_at <= {until}
