-- The application's own observability tables, as the design document defines them.
-- created_at is nullable on purpose (the original DDL only gives it a default): the pipeline must
-- quarantine rows where it is NULL rather than lose or crash on them.
create table if not exists public.query_performance_logs (
    id uuid primary key default gen_random_uuid(),
    query_hash text not null,
    query_text text,
    execution_time_ms numeric,
    rows_returned integer,
    rows_examined integer,
    index_usage jsonb,
    user_id uuid,
    organization_id uuid,
    created_at timestamptz default now()
);
create index if not exists idx_query_perf_hash on public.query_performance_logs (query_hash);
create index if not exists idx_query_perf_time on public.query_performance_logs (created_at);
create index if not exists idx_query_perf_duration on public.query_performance_logs (execution_time_ms);

create table if not exists public.vector_query_logs (
    id uuid primary key default gen_random_uuid(),
    query_type text,
    table_name text,
    similarity_threshold double precision,
    vector_dimension integer,
    query_time_ms numeric,
    result_count integer,
    index_used boolean,
    created_at timestamptz default now()
);
create index if not exists idx_vector_query_logs_time on public.vector_query_logs (created_at);

create table if not exists public.embedding_generation_logs (
    id uuid primary key default gen_random_uuid(),
    model text,
    token_count integer,
    generation_time_ms numeric,
    error text,
    created_at timestamptz default now()
);
create index if not exists idx_embedding_logs_time on public.embedding_generation_logs (created_at);

create table if not exists public.error_events (
    id uuid primary key default gen_random_uuid(),
    name text,
    message text,
    stack text,
    severity text,
    context jsonb,
    user_agent text,
    url text,
    created_at timestamptz default now()
);
create index if not exists idx_error_events_time on public.error_events (created_at);
