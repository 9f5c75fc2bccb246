-- Seed the shop application (app.*). Run by aimatrix_pipeline.demo.seed_data in ONE session after
-- `setseed()`, so every random() below is reproducible. Sizes and the time anchor come from
-- session settings (aimatrix.n_* and aimatrix.anchor) that seed_data sets first.
-- Ids are explicit (overriding system value) so references are plain arithmetic; the identity
-- sequences are moved past them at the end.

insert into app.customers (id, user_id, email, country, created_at) overriding system value
select g,
       case when g <= current_setting('aimatrix.n_users')::int
            then md5('auth.users:' || g)::uuid end,
       'customer' || g || '@example.com',
       (array['US','US','US','DE','GB','FR','BR','IN','JP','CA'])[1 + floor(random() * 10)::int],
       current_setting('aimatrix.anchor')::timestamptz - random() * interval '365 days'
from generate_series(1, current_setting('aimatrix.n_customers')::int) as g;

insert into app.products (id, sku, name, price_cents) overriding system value
select g,
       'SKU-' || lpad(g::text, 6, '0'),
       (array['Mug','T-shirt','Sticker','Notebook','Hoodie','Cap','Poster','Bottle'])[1 + (g % 8)]
           || ' #' || g,
       (199 + floor(random() * 9800))::int
from generate_series(1, current_setting('aimatrix.n_products')::int) as g;

-- Every order carries a free-text note (~200 bytes: gift wrap, a reference, delivery instructions),
-- so app.orders_note_idx has real size (over the 10 MB unused-index threshold: see 03_app_schema).
-- No query ever filters by note: the index stays unused (a deliberate defect).
insert into app.orders (id, customer_id, status, note, total_cents, created_at) overriding system value
select g,
       1 + floor(random() * current_setting('aimatrix.n_customers')::int)::int,
       (array['paid','paid','paid','shipped','shipped','delivered','refunded','pending'])[1 + floor(random() * 8)::int],
       'gift wrap: ' || (array['no','yes','ask customer','leave at door'])[1 + floor(random() * 4)::int]
           || ' / ref ' || md5('note' || g)
           || ' / deliver: ' || md5('door' || g) || md5('floor' || g) || md5('code' || g) || md5('call' || g),
       0,
       current_setting('aimatrix.anchor')::timestamptz - (random() ^ 2) * interval '180 days'
from generate_series(1, current_setting('aimatrix.n_orders')::int) as g;

insert into app.order_items (order_id, line_no, product_id, quantity)
select o.id, l.line_no,
       1 + floor(random() * current_setting('aimatrix.n_products')::int)::int,
       1 + floor(random() * 3)::int
from app.orders o
cross join lateral generate_series(1, 1 + (o.id % 4)::int) as l(line_no)
order by o.id, l.line_no;

update app.orders o
set total_cents = s.total
from (select oi.order_id, sum(oi.quantity * p.price_cents)::int as total
      from app.order_items oi join app.products p on p.id = oi.product_id
      group by oi.order_id) s
where s.order_id = o.id;

-- A table without a primary key, read by sequential scans, whose autovacuum is switched off and
-- whose old rows were deleted by a "retention job": dead tuples pile up (vacuum overdue).
alter table app.page_views set (autovacuum_enabled = off);
insert into app.page_views (customer_id, path, viewed_at)
select 1 + floor(random() * current_setting('aimatrix.n_customers')::int)::int,
       (array['/', '/products', '/cart', '/checkout', '/account', '/search', '/blog'])[1 + floor(random() * 7)::int],
       current_setting('aimatrix.anchor')::timestamptz - random() * interval '60 days'
from generate_series(1, current_setting('aimatrix.n_page_views')::int) as g;
delete from app.page_views
where viewed_at < current_setting('aimatrix.anchor')::timestamptz - interval '45 days';

select setval(pg_get_serial_sequence('app.customers', 'id'), current_setting('aimatrix.n_customers')::int);
select setval(pg_get_serial_sequence('app.products', 'id'), current_setting('aimatrix.n_products')::int);
select setval(pg_get_serial_sequence('app.orders', 'id'), current_setting('aimatrix.n_orders')::int);

-- Rebuilt once loaded: an index's fillfactor only applies when it is built, and the unused
-- orders_note_idx is meant to be as large as 03_app_schema says (pages 90 % empty).
reindex index app.orders_note_idx;
