"""Only CREATE/DROP INDEX CONCURRENTLY, VACUUM and ANALYZE are ever run."""

from __future__ import annotations

import pytest

from aimatrix_pipeline.remediation.statements import Refused, classify


def test_allowed_statements_are_classified_with_their_targets():
    (a,) = classify('CREATE INDEX CONCURRENTLY IF NOT EXISTS "oi_product_fk_idx" ON "app"."order_items" ("product_id");')
    assert (a.kind, a.schema, a.name, a.table) == ("create_index", "app", "oi_product_fk_idx", "order_items")
    (d,) = classify('DROP INDEX CONCURRENTLY IF EXISTS "defects"."events_kind_idx";')
    assert (d.kind, d.schema, d.name) == ("drop_index", "defects", "events_kind_idx")
    v = classify('VACUUM (ANALYZE) "defects"."sessions";\n-- then check autovacuum settings')
    assert [(x.kind, x.tables) for x in v] == [("vacuum", (("defects", "sessions"),))]
    (an,) = classify("ANALYZE app.orders")
    assert an.kind == "analyze" and an.sql == "ANALYZE app.orders"


def test_statements_after_non_ascii_identifiers_are_cut_where_they_end():
    sql = ('DROP INDEX CONCURRENTLY IF EXISTS "adv"."índice_über_straße";\n'
           'VACUUM (ANALYZE) "adv"."tablé", "adv"."日本";\nANALYZE "adv"."ñ"')
    drop, vacuum, analyze = classify(sql)
    assert drop.sql == 'DROP INDEX CONCURRENTLY IF EXISTS "adv"."índice_über_straße"'
    assert (drop.schema, drop.name) == ("adv", "índice_über_straße")
    assert vacuum.sql == 'VACUUM (ANALYZE) "adv"."tablé", "adv"."日本"'
    assert vacuum.tables == (("adv", "tablé"), ("adv", "日本"))
    assert analyze.sql == 'ANALYZE "adv"."ñ"'


@pytest.mark.parametrize("sql, reason", [
    ("DROP TABLE app.orders", "removes something else"),
    ("CREATE INDEX i ON app.orders (status)", "without CONCURRENTLY"),
    ("CREATE INDEX CONCURRENTLY ON app.orders (status)", "without an index name"),
    ("DROP INDEX app.i", "ACCESS EXCLUSIVE"),
    ("VACUUM FULL app.orders", "VACUUM FULL"),
    ("VACUUM", "must name its tables"),
    ("-- ALTER TABLE app.page_views ADD PRIMARY KEY (<columns>);", "only comments"),
    ("ALTER TABLE app.orders ADD COLUMN x int", "AlterTableStmt"),
    ("ANALYZE app.orders; DELETE FROM app.orders", "DeleteStmt"),
    ("", "no remediation SQL"),
    ("CREATE INDEX CONCURRENTLY i ON (", "does not parse"),
])
def test_everything_else_is_refused_with_the_reason(sql, reason):
    with pytest.raises(Refused, match=reason.replace("(", r"\(")):
        classify(sql)
