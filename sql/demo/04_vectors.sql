-- pgvector content: documents with an HNSW index (the healthy case) and a second table whose
-- IVFFlat index was built with far too many lists for its row count (a deliberate defect).
create extension if not exists vector with schema extensions;

create table if not exists public.documents (
    id bigint generated always as identity primary key,
    title text not null,
    body text,
    embedding extensions.vector(384) not null,
    created_at timestamptz not null default now()
);

create table if not exists public.faq_chunks (
    id bigint generated always as identity primary key,
    content text not null,
    embedding extensions.vector(384) not null
);
