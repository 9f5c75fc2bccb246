-- A small shop application with the defects a monitor must find. Each defect is deliberate:
--   * app.orders_note_idx           unused index (never scanned by the workload), > 10 MB
--   * app.orders_customer_id_idx    duplicate: a leading prefix of app.orders_customer_created_idx
--   * app.order_items.product_id    foreign key without an index
--   * app.page_views                table without a primary key (and seq-scanned heavily)
create schema if not exists app;

create table if not exists app.customers (
    id bigint generated always as identity primary key,
    user_id uuid,
    email text not null,
    country text,
    created_at timestamptz not null default now()
);

create table if not exists app.products (
    id bigint generated always as identity primary key,
    sku text not null unique,
    name text not null,
    price_cents integer not null
);

create table if not exists app.orders (
    id bigint generated always as identity primary key,
    customer_id bigint not null references app.customers (id),
    status text not null,
    note text,
    total_cents integer not null,
    created_at timestamptz not null default now()
);
create index if not exists orders_customer_created_idx on app.orders (customer_id, created_at);
create index if not exists orders_customer_id_idx on app.orders (customer_id);
-- fillfactor 10 leaves its pages 90 % empty, as years of churn would: with the long notes the seed
-- writes (and rebuilds it after), it is above the 10 MB unused-index threshold
-- (unused_index_min_bytes) at any scale
create index if not exists orders_note_idx on app.orders (note) with (fillfactor = 10);

create table if not exists app.order_items (
    order_id bigint not null references app.orders (id),
    line_no integer not null,
    product_id bigint not null references app.products (id),
    quantity integer not null,
    primary key (order_id, line_no)
);

create table if not exists app.page_views (
    customer_id bigint,
    path text,
    viewed_at timestamptz default now()
);
