-- Columns added to analytics tables by the advisors (ALTER ... IF NOT EXISTS brings a warehouse
-- created by an earlier version up to date; the derivation refills them on its next run).

-- table_health: scans since the previous snapshot of the same table (NULL on its first snapshot
-- and after a statistics reset or a re-created table), so seq-scan-heavy judges recent traffic,
-- not lifetime counters that include e.g. the scans of every CREATE INDEX.
alter table analytics.table_health add column if not exists seq_scan_delta bigint;
alter table analytics.table_health add column if not exists idx_scan_delta bigint;
