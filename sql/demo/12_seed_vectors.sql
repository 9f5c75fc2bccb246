-- Seed the pgvector tables with 384-dimensional embeddings generated in SQL (one correlated
-- array_agg per row; the `where g > 0` makes the subquery run per row instead of once).
-- The vector indexes are built afterwards (05_vector_indexes.sql): IVFFlat needs the data to
-- train its lists, and faq_chunks gets 500 lists for ~2k rows on purpose.

insert into public.documents (id, title, body, embedding, created_at) overriding system value
select g,
       (array['Getting started', 'Billing FAQ', 'Refund policy', 'Shipping times', 'API guide',
              'Release notes', 'Security overview'])[1 + (g % 7)] || ' (' || g || ')',
       'Body of document ' || g || ': ' || repeat('lorem ipsum ', 1 + (g % 20)),
       (select array_agg(random() - 0.5)::extensions.vector(384)
        from generate_series(1, 384) where g > 0),
       current_setting('aimatrix.anchor')::timestamptz - random() * interval '200 days'
from generate_series(1, current_setting('aimatrix.n_documents')::int) as g;

insert into public.faq_chunks (id, content, embedding) overriding system value
select g,
       'FAQ chunk ' || g || ': how do I ' ||
           (array['reset my password', 'change my plan', 'export my data', 'delete my account',
                  'invite a teammate'])[1 + (g % 5)] || '?',
       (select array_agg(random() - 0.5)::extensions.vector(384)
        from generate_series(1, 384) where g > 0)
from generate_series(1, current_setting('aimatrix.n_faq_chunks')::int) as g;

select setval(pg_get_serial_sequence('public.documents', 'id'), current_setting('aimatrix.n_documents')::int);
select setval(pg_get_serial_sequence('public.faq_chunks', 'id'), current_setting('aimatrix.n_faq_chunks')::int);
