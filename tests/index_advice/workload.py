"""A database whose workload needs three indexes, beside decoys that must never get one.

Needed: `orders(customer_id)` (one selective column), `orders(region_id, channel_id)` (two columns,
each matching 2 % of the rows, together 0.04 %), `order_items(order_id)` (a join key).
Decoys: `orders.status` (half the rows match), `orders.priority` (a fifth of the rows match: the
planner would use an index, for a cost drop of about a quarter, which is what a one-query advisor
keeps and a 50 % threshold does not), `countries.name` (a tiny table), `orders.sku` (already
indexed) and `orders.id` (the primary key).
"""

from __future__ import annotations

import psycopg

SCHEMA_SQL = """
create table orders (
    id bigint primary key,
    customer_id integer not null,
    region_id integer not null,
    channel_id integer not null,
    status text not null,
    priority integer not null,
    sku text not null,
    total numeric(10, 2) not null
);
insert into orders
select g, (g * 7919) % 20000, g % 50, (g / 50) % 50, case when g % 2 = 0 then 'open' else 'closed' end,
       (g * 7919) % 5,
       'sku-' || (g % 30000), (g % 1000) / 10.0
from generate_series(1, 100000) g;
create index orders_sku_idx on orders (sku);
create table order_items (order_id bigint not null, line integer not null, quantity integer not null);
insert into order_items select (g / 3) + 1, g % 3, g % 7 from generate_series(0, 299999) g;
create table countries (code text primary key, name text not null);
insert into countries select 'c' || g, 'country ' || g from generate_series(1, 20) g;
"""

# (label, statement, a parameter factory) - run with server-side parameters, so pg_stat_statements
# records the normalised text with $n.
NEEDED = {
    "orders(customer_id)": ("select id, total from orders where customer_id = %s", lambda i: (i * 13 % 20000,)),
    "orders(region_id, channel_id)": ("select id, total from orders where region_id = %s and channel_id = %s",
                                      lambda i: (i % 50, (i * 3) % 50)),
    "order_items(order_id)": ("select i.line, i.quantity from orders o join order_items i on i.order_id = o.id "
                              "where o.id = %s", lambda i: (i * 17 % 100000 + 1,)),
}
DECOYS = {
    "orders(status)": ("select id, total from orders where status = %s", lambda i: ("open" if i % 2 else "closed",)),
    "orders(priority)": ("select id, total from orders where priority = %s", lambda i: (i % 5,)),
    "countries(name)": ("select code from countries where name = %s", lambda i: (f"country {i % 20 + 1}",)),
    "orders(sku)": ("select id from orders where sku = %s", lambda i: (f"sku-{i}",)),
    "orders(id)": ("select customer_id from orders where id = %s", lambda i: (i + 1,)),
}
EXPECTED = {("public", "orders", ("customer_id",)),
            ("public", "order_items", ("order_id",))}
TWO_COLUMNS = {"region_id", "channel_id"}
DECOY_COLUMNS = {("orders", "status"), ("orders", "priority"), ("countries", "name"), ("orders", "sku"), ("orders", "id")}


def install(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA_SQL)
        for table in ("orders", "order_items", "countries"):
            conn.execute(f"vacuum analyze {table}")


def run_workload(url: str, rounds: int = 20, statements=None) -> None:
    """Each statement `rounds` times with server-side parameters (prepare=False keeps texts normalised)."""
    statements = statements or {**NEEDED, **DECOYS}
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(rounds):
            for query, params in statements.values():
                conn.execute(query, params(i), prepare=False).fetchall()


