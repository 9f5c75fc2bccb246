-- Dashboard: the 20 latest plan changes per project and for the fleet (project = '*'), with the
-- indexes the statement stopped or started using and its mean time before and after the change.
with changes as (
    select project, fingerprint, query_preview, changed_at, prev_captured_at, plan_hash_before, plan_hash_after,
           array_to_string(indexes_removed, ', ') as indexes_removed,
           array_to_string(indexes_added, ', ') as indexes_added,
           mean_time_ms_before, mean_time_ms_after, mean_time_ratio
    from analytics.plan_changes
),
ranked as (
    select *,
           row_number() over (partition by project order by changed_at desc, fingerprint) as project_rank,
           row_number() over (order by changed_at desc, project, fingerprint) as fleet_rank
    from changes
)
select scope as project, rank, project as source_project, fingerprint, query_preview, changed_at,
       prev_captured_at, plan_hash_before, plan_hash_after, indexes_removed, indexes_added,
       mean_time_ms_before, mean_time_ms_after, mean_time_ratio
from (
    select project as scope, project_rank as rank, * from ranked where project_rank <= 20
    union all
    select '*' as scope, fleet_rank as rank, * from ranked where fleet_rank <= 20
)
order by scope, rank
