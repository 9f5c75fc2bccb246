-- Built after data is loaded (IVFFlat needs data to train its lists).
create index if not exists documents_embedding_hnsw on public.documents
    using hnsw (embedding extensions.vector_cosine_ops) with (m = 16, ef_construction = 64);
create index if not exists faq_chunks_embedding_ivfflat on public.faq_chunks
    using ivfflat (embedding extensions.vector_l2_ops) with (lists = 500);
