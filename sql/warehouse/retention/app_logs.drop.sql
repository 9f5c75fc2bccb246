-- App-log rows of raw.__TABLE__ older than $app_log_cutoff (only when app-log retention is
-- configured). The high-water mark in raw.extract_state is untouched, so nothing is re-extracted.
delete from raw.__TABLE__ where created_at < $app_log_cutoff
