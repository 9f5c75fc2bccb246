-- Storage size per bucket at the end of each day of the range: the objects created by then.
-- `metadata->>'size'` is cast to bigint (int overflows past 2 GB); a size that is not a plain
-- number counts 0 and is reported as `unsized_objects`. Deleted objects leave no trace in
-- storage.objects, so a rebuilt past day counts only objects that still exist.
with days as (
    select d::date as day
    from generate_series(%(start_day)s::date, %(end_day)s::date, interval '1 day') as d
),
sized as (
    select bucket_id,
           coalesce((created_at at time zone 'UTC')::date, date '0001-01-01') as created_day,
           sum(case when metadata ->> 'size' ~ '^[0-9]{1,18}$' then (metadata ->> 'size')::bigint
                    else 0 end)::numeric as bytes,
           count(*) filter (where not coalesce(metadata ->> 'size' ~ '^[0-9]{1,18}$', false)) as unsized
    from storage.objects
    group by 1, 2
)
select d.day,
       b.id as bucket,
       coalesce(sum(s.bytes), 0)::bigint as bytes,
       coalesce(sum(s.unsized), 0)::bigint as unsized_objects
from days d
cross join storage.buckets b
left join sized s on s.bucket_id = b.id and s.created_day <= d.day
group by 1, 2
order by 1, 2
