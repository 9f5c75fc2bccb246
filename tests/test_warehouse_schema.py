"""The warehouse DDL runs when the file lacks this version of it, and only then: a new file, a file
from an older version, a file deleted or replaced while the process lives all get their tables on
the next write; a current one is not rewritten by every run."""

from __future__ import annotations

import duckdb

from aimatrix_pipeline.resources.warehouse import WarehouseResource, schema_digest


def _version(warehouse: WarehouseResource) -> list[tuple]:
    with warehouse.reader() as conn:
        return conn.execute("select digest, applied_at from raw.schema_version").fetchall()


def test_a_current_warehouse_is_not_rewritten(warehouse):
    with warehouse.writer():
        pass
    first = _version(warehouse)
    assert [digest for digest, _ in first] == [schema_digest()]
    with warehouse.writer():
        pass
    assert _version(warehouse) == first  # same row, same time: the DDL did not run again


def test_a_warehouse_deleted_while_the_process_lives_gets_its_tables_back(warehouse):
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.extract_state values ('p', 't', now(), 1, now())")
    warehouse.file.unlink()
    warehouse.file.with_name(warehouse.file.name + ".wal").unlink(missing_ok=True)
    with warehouse.transaction() as conn:  # before: "schema raw does not exist" until a restart
        conn.execute("insert into raw.extract_state values ('p', 't', now(), 2, now())")
    with warehouse.reader() as conn:
        assert conn.execute("select rows_loaded_total from raw.extract_state").fetchall() == [(2,)]
    assert [digest for digest, _ in _version(warehouse)] == [schema_digest()]


def test_a_warehouse_from_another_version_gets_this_versions_ddl(warehouse):
    """An older file: no version table at all, or another digest, and a table this version added."""
    with warehouse.transaction() as conn:
        conn.execute("insert into raw.extract_state values ('p', 't', now(), 7, now())")
    for downgrade in ("drop table raw.schema_version", "update raw.schema_version set digest = 'older'"):
        with duckdb.connect(str(warehouse.file)) as conn:
            conn.execute(downgrade)
            conn.execute("drop table raw.query_texts")
        with warehouse.writer():
            pass
        with warehouse.reader() as conn:
            assert conn.execute("select count(*) from raw.query_texts").fetchone() == (0,)
            assert conn.execute("select rows_loaded_total from raw.extract_state").fetchall() == [(7,)]
        assert [digest for digest, _ in _version(warehouse)] == [schema_digest()]
