-- What one run needs to know first: the source's clock (rows stamped after it are not loaded:
-- the high-water mark never passes it) and which columns the configured log table has (none: no
-- such table on this project). The catalog is readable by every role, so a table that is missing
-- is told apart from one the role may not read. $1 schema, $2 table: values, never spliced.
select
    clock_timestamp() as source_now,
    array(
        select a.attname::text
        from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        join pg_catalog.pg_attribute a on a.attrelid = c.oid
        where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p', 'v', 'm', 'f')
          and a.attnum > 0 and not a.attisdropped
        order by a.attnum
    ) as columns
