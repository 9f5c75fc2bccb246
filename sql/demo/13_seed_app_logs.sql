-- Seed the application's observability tables with a week of history, written the way the app
-- writes them: query texts with their literals inlined (e-mails, ids, dates), query_hash as the
-- application computes it (sha256 of the whitespace-normalised text, so it differs per literal),
-- execution times around a per-query base, some over a second.
-- Plus a FEW malformed rows the pipeline must quarantine or survive: NULL created_at, negative
-- durations, a ~1 MB query_text and a text that is not valid SQL.

create temp table seed_query_templates (n int primary key, template text, base_ms numeric,
                                        rows_base int, index_usage jsonb);
insert into seed_query_templates values
 (1, 'SELECT id, email, country FROM app.customers WHERE email = ''customer{n}@example.com''', 3, 1,
  '{"indexes": [], "seq_scan": true}'),
 (2, 'SELECT id, status, total_cents FROM app.orders WHERE customer_id = {n} ORDER BY created_at DESC LIMIT 20', 2, 5,
  '{"indexes": ["orders_customer_created_idx"], "seq_scan": false}'),
 (3, 'SELECT count(*) FROM app.page_views WHERE customer_id = {n}', 180, 1,
  '{"indexes": [], "seq_scan": true}'),
 (4, 'SELECT p.name, sum(oi.quantity) FROM app.order_items oi JOIN app.products p ON p.id = oi.product_id WHERE oi.product_id = {n} GROUP BY p.name', 650, 1,
  '{"indexes": ["products_pkey"], "seq_scan": true}'),
 (5, 'UPDATE app.orders SET status = ''shipped'' WHERE id = {n}', 4, 1,
  '{"indexes": ["orders_pkey"], "seq_scan": false}'),
 (6, 'SELECT c.country, sum(o.total_cents) FROM app.orders o JOIN app.customers c ON c.id = o.customer_id WHERE o.created_at > ''2026-01-{d}'' GROUP BY c.country', 1600, 10,
  '{"indexes": [], "seq_scan": true}'),
 (7, 'SELECT id, title FROM public.documents ORDER BY 1 - (embedding <=> ''[0.{n},0.1,0.7]'') DESC LIMIT 5', 1100, 5,
  '{"indexes": [], "seq_scan": true}'),
 (8, 'INSERT INTO app.page_views (customer_id, path) VALUES ({n}, ''/products'')', 1, 0,
  '{"indexes": [], "seq_scan": false}');

insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms, rows_returned,
                                           rows_examined, index_usage, user_id, organization_id, created_at)
select md5('qpl:' || g)::uuid,
       encode(sha256(convert_to(regexp_replace(q.text, '\s+', ' ', 'g'), 'UTF8')), 'hex'),
       q.text, q.ms, q.rows_returned, q.rows_returned * (1 + floor(random() * 200)::int),
       q.index_usage,
       md5('auth.users:' || (1 + floor(random() * current_setting('aimatrix.n_users')::int)::int))::uuid,
       md5('org:' || (1 + g % 3))::uuid,
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 2) * interval '7 days'
from generate_series(1, current_setting('aimatrix.n_query_logs')::int) as g
cross join lateral (
    select replace(replace(t.template, '{n}', (1 + floor(random() * 2000)::int)::text),
                   '{d}', lpad((1 + g % 28)::text, 2, '0')) as text,
           round((t.base_ms * exp((random() + random() + random() - 1.5) * 0.9))::numeric, 3) as ms,
           t.rows_base as rows_returned, t.index_usage
    from (select 1 + floor(random() * 8)::int + 0 * g as pick) as p
    join seed_query_templates t on t.n = p.pick
) as q;

-- Malformed rows (ids fixed so re-seeding is reproducible).
insert into public.query_performance_logs (id, query_hash, query_text, execution_time_ms, rows_returned, created_at)
values
 (md5('qpl-bad:null-created-1')::uuid, md5('bad1'), 'SELECT id FROM app.products WHERE sku = ''SKU-000042''', 5.2, 1, null),
 (md5('qpl-bad:null-created-2')::uuid, md5('bad2'), 'SELECT count(*) FROM app.orders WHERE status = ''paid''', 41.0, 1, null),
 (md5('qpl-bad:negative-1')::uuid, md5('bad3'), 'SELECT * FROM app.customers WHERE id = 7', -12.5, 1,
  current_setting('aimatrix.anchor')::timestamptz - interval '2 hours'),
 (md5('qpl-bad:negative-2')::uuid, md5('bad4'), 'SELECT * FROM app.orders WHERE id = 99', -1, 1,
  current_setting('aimatrix.anchor')::timestamptz - interval '3 hours'),
 (md5('qpl-bad:huge-text')::uuid, md5('bad5'),
  'SELECT id FROM app.products WHERE sku IN (' ||
      (select string_agg('''SKU-' || lpad(i::text, 9, '0') || '''', ',') from generate_series(1, 65000) i) || ')',
  2300, 0, current_setting('aimatrix.anchor')::timestamptz - interval '5 hours'),
 (md5('qpl-bad:not-sql')::uuid, md5('bad6'), 'SELEC * FORM app.orders WHERE (((', 0.4, 0,
  current_setting('aimatrix.anchor')::timestamptz - interval '6 hours');

insert into public.vector_query_logs (id, query_type, table_name, similarity_threshold, vector_dimension,
                                      query_time_ms, result_count, index_used, created_at)
select md5('vql:' || g)::uuid, v.query_type, v.table_name, v.threshold, 384,
       round((case when v.index_used then 8 else 240 end
              * exp((random() + random() + random() - 1.5) * 0.8))::numeric, 3),
       floor(random() * 6)::int, v.index_used,
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 2) * interval '7 days'
from generate_series(1, current_setting('aimatrix.n_vector_logs')::int) as g
cross join lateral (
    select case when r < 0.7 then 'similarity_search' when r < 0.9 then 'hybrid_search' else 'faq_lookup' end as query_type,
           case when r < 0.9 then 'documents' else 'faq_chunks' end as table_name,
           round((0.6 + random() * 0.3)::numeric, 2)::double precision as threshold,
           (r < 0.55 or r >= 0.9) as index_used
    from (select random() + 0 * g as r) as x
) as v;
insert into public.vector_query_logs (id, query_type, table_name, similarity_threshold, vector_dimension,
                                      query_time_ms, result_count, index_used, created_at)
values (md5('vql-bad:null-created')::uuid, 'similarity_search', 'documents', 0.8, 384, 12.0, 5, true, null);

insert into public.embedding_generation_logs (id, model, token_count, generation_time_ms, error, created_at)
select md5('egl:' || g)::uuid, e.model, e.tokens,
       round((e.tokens * 0.4 * exp((random() + random() - 1.0) * 0.6))::numeric, 3),
       case when e.r < 0.03 then 'rate_limit_exceeded: 429 Too Many Requests'
            when e.r < 0.05 then 'timeout after 30000 ms'
            when e.r < 0.06 then 'invalid_request_error: input too long' end,
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 2) * interval '7 days'
from generate_series(1, current_setting('aimatrix.n_embedding_logs')::int) as g
cross join lateral (
    select x.r,
           case when x.r < 0.8 then 'text-embedding-3-small' else 'gte-small' end as model,
           (20 + floor(random() * 600))::int as tokens
    from (select random() + 0 * g as r) as x
) as e;
insert into public.embedding_generation_logs (id, model, token_count, generation_time_ms, error, created_at)
values (md5('egl-bad:negative')::uuid, 'text-embedding-3-small', 120, -3.0, null,
        current_setting('aimatrix.anchor')::timestamptz - interval '1 hour');

insert into public.error_events (id, name, message, stack, severity, context, user_agent, url, created_at)
select md5('err:' || g)::uuid, e.name, e.message,
       e.name || ': ' || e.message || E'\n    at handler (/app/api/' || e.route || '.ts:42:13)',
       e.severity,
       jsonb_build_object('route', '/api/' || e.route, 'request_id', md5('req' || g)),
       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0',
       'https://shop.example.com/' || e.route,
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 2) * interval '7 days'
from generate_series(1, current_setting('aimatrix.n_error_events')::int) as g
cross join lateral (
    select case when r < 0.5 then 'TypeError' when r < 0.8 then 'PostgrestError' else 'FetchError' end as name,
           case when r < 0.5 then 'Cannot read properties of undefined (reading ''id'')'
                when r < 0.8 then 'canceling statement due to statement timeout'
                else 'fetch failed: ECONNRESET' end as message,
           case when r < 0.7 then 'error' when r < 0.95 then 'warning' else 'fatal' end as severity,
           (array['checkout', 'search', 'orders', 'profile'])[1 + floor(random() * 4)::int] as route
    from (select random() + 0 * g as r) as x
) as e;
insert into public.error_events (id, name, message, severity, created_at)
values (md5('err-bad:null-created')::uuid, 'TypeError', 'event without timestamp', 'error', null);

drop table seed_query_templates;
