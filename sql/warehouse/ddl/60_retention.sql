-- Retention tiers of raw snapshots, shared by every retention rule in sql/warehouse/retention/:
-- every snapshot after full_cutoff, the last one per hour until hourly_cutoff, the last per day
-- before it. A bucket is the key "the last snapshot per ..." is taken over.
create schema if not exists raw;

create or replace macro raw.retention_tier(ts, full_cutoff, hourly_cutoff) as
    case
        when ts >= full_cutoff then 'full'
        when ts >= hourly_cutoff then 'hourly'
        else 'daily'
    end;

create or replace macro raw.retention_bucket(ts, full_cutoff, hourly_cutoff) as
    case raw.retention_tier(ts, full_cutoff, hourly_cutoff)
        when 'full' then epoch_us(ts)
        when 'hourly' then floor(epoch(ts) / 3600)::bigint * 3600 * 1000000
        else floor(epoch(ts) / 86400)::bigint * 86400 * 1000000
    end;
