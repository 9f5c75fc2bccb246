-- pgvector health: every vector column of the latest snapshot with its ANN index (one row per
-- index; index columns NULL when the column has none), joined with query statistics from
-- raw.vector_query_logs by table name ('documents' or 'public.documents'). Tables that appear
-- only in the logs get a row with NULL index columns. Parameters: $project.
-- recommended_lists: pgvector's IVFFlat guidance, rows/1000 up to 1M rows, sqrt(rows) above.
with latest as (
    select * from raw.vector_indexes
    where project = $project
      -- the newest snapshot taken (raw.snapshot_runs records empty ones too): a column dropped
      -- since leaves this snapshot, instead of the last non-empty snapshot being judged forever
      and snapshot_at = greatest(
          (select max(snapshot_at) from raw.snapshot_runs where project = $project and name = 'vector_indexes'),
          (select max(snapshot_at) from raw.vector_indexes where project = $project))
),
logs as (
    select table_name,
           count(*) as queries,
           quantile_cont(query_time_ms, 0.5) as p50_query_ms,
           quantile_cont(query_time_ms, 0.95) as p95_query_ms,
           avg(query_time_ms) as avg_query_ms,
           avg(case when index_used then 1.0 when index_used is not null then 0.0 end) as index_used_share,
           avg(similarity_threshold) as avg_similarity_threshold,
           min(similarity_threshold) as min_similarity_threshold,
           max(similarity_threshold) as max_similarity_threshold,
           avg(result_count) as avg_result_count
    from raw.vector_query_logs
    where project = $project
    group by table_name
),
cols as (
    select l.*, g.table_name as log_table
    from latest l
    left join logs g on g.table_name = l.relname or g.table_name = l.schemaname || '.' || l.relname
)
select $project as project,
       c.snapshot_at, c.schemaname,
       coalesce(c.relname, g.table_name) as relname,
       c.column_name, c.column_type, c.dimensions, c.table_rows, c.table_bytes,
       c.indexrelname, c.access_method, c.opclass, c.lists, c.m, c.ef_construction,
       case when c.table_rows <= 1000000 then greatest(c.table_rows / 1000, 1) else sqrt(c.table_rows) end
           as recommended_lists,
       c.index_bytes, c.idx_scan, c.is_valid,
       g.queries, g.p50_query_ms, g.p95_query_ms, g.avg_query_ms, g.index_used_share,
       g.avg_similarity_threshold, g.min_similarity_threshold, g.max_similarity_threshold,
       g.avg_result_count
from cols c
full outer join logs g on g.table_name = c.log_table
