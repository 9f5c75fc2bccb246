-- Which DDL this warehouse holds: a digest of every file in this folder, written after they all ran.
-- A writer compares it with its own files' digest and skips the DDL when they match, so a run
-- does not rewrite the catalog on every open (DuckLake commits that as a snapshot) and a warehouse
-- deleted or replaced while a process lives gets its tables back on the next write.
create table if not exists raw.schema_version (
    digest varchar not null,
    applied_at timestamptz not null
);
