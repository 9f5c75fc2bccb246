"""extract.explain: only one re-deparsed statement reaches EXPLAIN; generic plans on PG 15 and 18."""

from __future__ import annotations

import psycopg
import pytest

from aimatrix_pipeline.extract import explain
from aimatrix_pipeline.extract.index_advice.candidates import Candidate, candidates_for, served_by, table_uses

HOSTILE = [
    "select 1; drop table orders",
    "select 1; select 2",
    "drop table orders",
    "create index on orders (id)",
    "explain analyze select 1",
    "select * into stolen from orders",
    "copy orders to program 'rm -rf /'",
    "set role postgres",
    "select * from orders where id = ",           # cut by a preview limit
    "",
    "   ",
    None,
    "select 1 /* */; -- \n delete from orders",
    "vacuum orders",
    "select '\x00'",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_texts_are_not_explainable(text):
    assert explain.explainable_statement(text) is None


@pytest.mark.parametrize("text,kind", [
    ("select id from orders where customer_id = $1", "SELECT"),
    ("SELECT id FROM orders WHERE customer_id IN ($1 /*, ... */) -- trailing comment", "SELECT"),
    ("update orders set total = $1 where id = $2", "UPDATE"),
    ("delete from orders where id = $1", "DELETE"),
    ("insert into orders (id) select $1", "INSERT"),
    ("with x as (select 1) select * from x", "WITH"),
])
def test_single_statements_come_back_re_deparsed(text, kind):
    out = explain.explainable_statement(text)
    assert out is not None and out.upper().startswith(kind)
    assert "--" not in out and "/*" not in out  # comments never travel
    assert explain.explainable_statement(out) == out  # a fixed point


def _plan(conn, text):
    return explain.generic_plan(conn, text)


def test_generic_plan_on_both_majors_never_runs_the_statement(source_db):
    source_db.execute("create table gp (id bigint primary key, k int, v text)")
    source_db.execute("insert into gp select g, g % 100, 'x' from generate_series(1, 5000) g")
    source_db.execute("analyze gp")
    with psycopg.connect(source_db.url) as conn:
        plan = _plan(conn, "select v from gp where k = $1 and id > $2 order by id")
        assert plan["Total Cost"] > 0 and plan["Node Type"]
        # a DELETE is planned, never executed
        _plan(conn, "delete from gp where k = $1")
        assert conn.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0
        with pytest.raises(explain.NotExplainable):
            _plan(conn, "select 1; delete from gp")
        # errors leave the session usable and nothing prepared
        with pytest.raises(psycopg.errors.UndefinedTable):
            _plan(conn, "select * from no_such_table where a = $1")
        assert conn.execute("select count(*) from pg_prepared_statements").fetchone()[0] == 0
        # the timeouts are local to the plan's transaction
        conn.commit()
        assert conn.execute("show statement_timeout").fetchone()[0] in ("0", "0ms")
    assert source_db.execute("select count(*) from gp")[0][0] == 5000


def test_generic_plan_is_the_generic_one(source_db):
    """The value stays unknown ($1 in the plan's conditions), as a prepared statement's generic
    plan has it, on both majors; a plan for a literal shows the literal instead."""
    source_db.execute("create table skew (id bigint primary key, s int)")
    source_db.execute("insert into skew select g, g % 50 from generate_series(1, 20000) g")
    source_db.execute("create index skew_s on skew (s)")
    source_db.execute("analyze skew")
    conds = ("Index Cond", "Recheck Cond", "Filter")
    with psycopg.connect(source_db.url) as conn:
        generic = _plan(conn, "select * from skew where s = $1")
        custom = conn.execute("explain (format json) select * from skew where s = 7").fetchone()[0][0]["Plan"]
    generic_conds = [n[k] for n in explain.plan_nodes(generic) for k in conds if k in n]
    custom_conds = [n[k] for n in explain.plan_nodes(custom) for k in conds if k in n]
    assert generic_conds and all("$1" in c for c in generic_conds)
    assert custom_conds and all("$1" not in c and "7" in c for c in custom_conds)


def test_plan_hash_ignores_costs_and_constants_but_not_shape():
    base = {"Node Type": "Index Scan", "Relation Name": "orders", "Index Name": "orders_pkey",
            "Index Cond": "(id = $1)", "Total Cost": 8.3, "Plan Rows": 1, "Startup Cost": 0.29}
    same = {**base, "Total Cost": 99.0, "Plan Rows": 7, "Index Cond": "(id = '42'::bigint)"}
    other_index = {**base, "Index Name": "orders_other"}
    other_column = {**base, "Index Cond": "(customer_id = $1)"}
    hypo_a = {**base, "Index Name": "<13543>btree_orders_id"}
    hypo_b = {**base, "Index Name": "<99871>btree_orders_id"}
    assert explain.plan_hash(base) == explain.plan_hash(same) == explain.plan_hash({"Plan": same})
    assert explain.plan_hash(base) != explain.plan_hash(other_index)
    assert explain.plan_hash(base) != explain.plan_hash(other_column)
    assert explain.plan_hash(hypo_a) == explain.plan_hash(hypo_b)
    parent = {"Node Type": "Limit", "Plans": [base]}
    assert explain.plan_hash(parent) != explain.plan_hash({"Node Type": "Limit", "Plans": [other_index]})


COLUMNS = {("public", "orders"): {"id", "customer_id", "status", "created_at", "region_id"},
           ("public", "items"): {"order_id", "line"}}


def test_candidates_from_predicates_joins_and_sorts():
    uses = {(u.schema, u.table): u for u in table_uses(
        "select * from orders o join items i on i.order_id = o.id "
        "where o.customer_id = $1 and o.region_id in ($2, $3) and o.created_at > $4 and (o.status = $5 or true) "
        "order by o.created_at", COLUMNS)}
    orders, items = uses[("public", "orders")], uses[("public", "items")]
    assert orders.equality == ["id", "customer_id", "region_id"] and orders.ranges == ["created_at"]
    assert "status" not in orders.equality  # under OR: no single scan serves it
    assert items.equality == ["order_id"] and items.joins == ["order_id"]
    cands = {c.columns for c in candidates_for(orders)}
    assert ("customer_id",) in cands and ("id", "customer_id", "created_at") in cands
    # unqualified columns resolve through the catalog; a column neither table has is dropped
    (u,) = table_uses("select * from items where line = $1 and nothing = $2", COLUMNS)
    assert u.equality == ["line"]


def test_existing_index_serves_by_prefix():
    c = Candidate("public", "orders", ("customer_id",))
    assert served_by(c, [("customer_id", "created_at")])
    assert not served_by(c, [("created_at", "customer_id")])
    two = Candidate("public", "orders", ("region_id", "customer_id"))
    assert served_by(two, [("customer_id", "region_id")], equality=["region_id", "customer_id"])
    assert not served_by(two, [("customer_id", "region_id")], equality=["region_id"])
