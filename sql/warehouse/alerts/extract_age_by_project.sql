-- Minutes since the newest extraction of every configured project ($projects, a list), newest of
-- the raw.database_stats snapshots and raw.extract_state loads. NULL age: never extracted.
with projects as (
    select unnest($projects::varchar[]) as project
),
newest as (
    select project, max(ts) as ts from (
        select project, max(snapshot_at) as ts from raw.database_stats group by project
        union all
        select project, max(updated_at) from raw.extract_state group by project
    )
    group by project
)
select p.project, date_diff('second', n.ts, now()) / 60.0 as age_minutes, n.ts as last_extracted_at
from projects p left join newest n using (project)
order by p.project
