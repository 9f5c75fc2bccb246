"""A truncated warehouse file (a copy or restore cut short, a full disk): the run that writes to
it fails with a clear message instead of reporting success, and readers say what is wrong."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from aimatrix_pipeline.cli import main
from aimatrix_pipeline.resources.warehouse import WarehouseDamaged
from tests.extract.helpers import SNAPSHOT_ASSETS, failed_steps, materialize

BLOCK = 262_144
HEADER = 3 * 4096


def _late_table_unreadable(path) -> bool | None:
    """True: the catalog opens but scratch.late's data is gone; None: the file does not open at all."""
    try:
        conn = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        conn.execute("select * from scratch.early").fetchall()
        conn.execute("select * from scratch.late").fetchall()
        return False
    except duckdb.Error:
        return True
    finally:
        conn.close()


def _truncate_data_keep_catalog(warehouse, tmp_path) -> None:
    """Write tables into the warehouse file, then cut the file where the catalog survives but the
    last table's blocks do not: the state in which a writer used to succeed and readers fail."""
    with duckdb.connect(str(warehouse.file)) as conn:
        conn.execute("create schema scratch")
        # each checkpoint writes the table's data, then its catalog into the catalog blocks so far
        for table, rows in (("early", 300_000), ("mid", 100_000), ("late", 100_000)):
            conn.execute(f"create table scratch.{table} as select range as i, md5(range::varchar) as s "
                         f"from range({rows})")
            conn.execute("checkpoint")
    original = tmp_path / "whole.duckdb"
    shutil.copyfile(warehouse.file, original)
    blocks = (original.stat().st_size - HEADER) // BLOCK
    for keep in range(blocks - 1, 0, -1):
        shutil.copyfile(original, warehouse.file)
        os.truncate(warehouse.file, HEADER + keep * BLOCK)
        if _late_table_unreadable(warehouse.file):
            return
    pytest.fail("no truncation point leaves the catalog readable and the last table's data cut off")


@pytest.fixture
def table_stats_asset():
    return next(a for a in SNAPSHOT_ASSETS if a.key.to_user_string() == "raw/table_stats")


def test_a_run_writing_to_a_truncated_warehouse_fails_clearly(source_db18, warehouse, tmp_path, monkeypatch,
                                                              table_stats_asset, capsys):
    monkeypatch.setenv("SUPABASE_DB_URL", source_db18.url)
    _truncate_data_keep_catalog(warehouse, tmp_path)
    size = warehouse.file.stat().st_size
    result = materialize([table_stats_asset], warehouse, raise_on_error=False)
    assert not result.success
    [message] = failed_steps(result).values()
    assert "is truncated" in message and "Nothing was written" in message and "restore it" in message
    assert warehouse.file.stat().st_size == size  # nothing was written, nor the hole filled with zeros
    # a reader says the same instead of failing on the first lost block
    with pytest.raises(WarehouseDamaged, match="is truncated"):
        with warehouse.reader():
            pass
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    assert main(["sql", "select count(*) from scratch.late"]) == 1
    assert "is truncated" in capsys.readouterr().err


def test_a_file_cut_into_its_catalog_is_reported_as_damaged(warehouse):
    with warehouse.transaction() as conn:
        conn.execute("create table main.t as select range as i, md5(range::varchar) as s from range(200000)")
    os.truncate(warehouse.file, HEADER + BLOCK)
    with pytest.raises(WarehouseDamaged, match="truncated or damaged"):
        with warehouse.transaction():
            pass


def test_a_whole_warehouse_passes_the_check_after_deletes_shrink_it(warehouse):
    """DuckDB cuts free blocks off the end of the file: that is not a truncation."""
    for _ in range(3):
        with warehouse.transaction() as conn:
            conn.execute("create or replace table main.big as select range as i, md5(range::varchar) as s "
                         "from range(200000)")
            conn.execute("create or replace table main.small as select 1 as x")
        with warehouse.transaction() as conn:
            conn.execute("drop table main.big")
    with warehouse.reader() as conn:
        assert conn.execute("select x from main.small").fetchall() == [(1,)]


def test_a_file_truncated_after_this_process_verified_it_is_still_caught(warehouse, tmp_path):
    """A writer skips the verification when the file is exactly as this process's previous writer
    left it; a file changed from outside in between (here: cut short) is verified again."""
    with warehouse.transaction() as conn:
        conn.execute("create table main.t as select 1 as x")
    with warehouse.transaction():
        pass  # verified on connect and after the checkpoint: remembered
    _truncate_data_keep_catalog(warehouse, tmp_path)
    with pytest.raises(WarehouseDamaged, match="is truncated"):
        with warehouse.writer():
            pass
def test_every_truncation_point_gives_the_damaged_message_with_the_restore_hint(warehouse, tmp_path, capsys,
                                                                                monkeypatch):
    """Cut anywhere (a few bytes, a block, into the catalog), the reader, `sql` and the writer all
    say WarehouseDamaged with the restore hint; none gives DuckDB's raw `IO Error` quoting
    pragma_storage_info(...), as a cut that left the catalog pointing past the end did."""
    with warehouse.writer() as conn:
        conn.execute("create schema scratch")
        for table, rows in (("early", 300_000), ("mid", 100_000), ("late", 100_000)):
            conn.execute(f"create table scratch.{table} as select range as i, md5(range::varchar) as s "
                         f"from range({rows})")
            conn.execute("checkpoint")
    original = tmp_path / "whole.duckdb"
    shutil.copyfile(warehouse.file, original)
    size = original.stat().st_size
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(warehouse.file))
    cuts = sorted({size - 1, size - 4096, size - BLOCK, size - BLOCK - 1, *range(HEADER, size, BLOCK // 2)})
    for cut in cuts:
        shutil.copyfile(original, warehouse.file)
        os.truncate(warehouse.file, cut)
        with pytest.raises(WarehouseDamaged, match="restore it from a backup"):
            with warehouse.reader() as conn:
                conn.execute("select count(*) from scratch.late").fetchall()
        with pytest.raises(WarehouseDamaged, match="restore it from a backup"):
            with warehouse.transaction():
                pass
        assert main(["sql", "select count(*) from scratch.late"]) != 0
        err = capsys.readouterr().err
        assert err.startswith(f"error: warehouse {warehouse.file} ") and "truncated" in err, (cut, err)
        assert "restore it from a backup" in err and "pragma_storage_info" not in err, (cut, err)
