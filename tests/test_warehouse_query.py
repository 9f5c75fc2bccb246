"""`aimatrix_pipeline.warehouse.query`: the notebook's way into the warehouse, as a pandas DataFrame,
through the same lock-safe, sandboxed reader as `aimatrix-pipeline sql`."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import duckdb
import pandas as pd
import pytest

from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, WarehouseResource
from aimatrix_pipeline.warehouse import QueryRefused, query


@pytest.fixture
def seeded(warehouse):
    with warehouse.transaction() as conn:
        conn.execute("create table main.items (project varchar, n integer, label varchar)")
        conn.execute("insert into main.items select case when range % 2 = 0 then 'a' else 'b' end, range, "
                     "'item ' || range from range(10)")
    return warehouse


def test_query_returns_a_dataframe_with_bound_parameters(seeded, monkeypatch):
    frame = query("select n, label from main.items where project = $project and n < $below order by n",
                  {"project": "a", "below": 5}, warehouse=seeded)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["n", "label"]
    assert frame["n"].tolist() == [0, 2, 4] and frame["label"].tolist() == ["item 0", "item 2", "item 4"]
    assert pd.api.types.is_integer_dtype(frame["n"])
    # a value is a value, never SQL
    assert query("select count(*) as c from main.items where project = ?", ["a' or '1'='1"],
                 warehouse=seeded)["c"].tolist() == [0]
    # without `warehouse=`: the code location's warehouse, as the CLI resolves it
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", str(seeded.file))
    assert query("select sum(n) as total from main.items")["total"].tolist() == [45]


def test_query_waits_for_a_writer_and_sees_all_of_its_write(seeded):
    inserted, release = threading.Event(), threading.Event()

    def writer():
        with seeded.transaction() as conn:
            conn.execute("insert into main.items select 'c', range, null from range(1000)")
            inserted.set()
            release.wait(60)

    with ThreadPoolExecutor(2) as pool:
        write = pool.submit(writer)
        assert inserted.wait(30)
        read = pool.submit(query, "select count(*) as n from main.items", warehouse=seeded)
        with pytest.raises(FutureTimeout):
            read.result(timeout=1.0)  # still waiting: the write holds the lock
        release.set()
        write.result(timeout=60)
        assert read.result(timeout=60)["n"].tolist() == [1010]  # all of the write, never part of it


def test_query_gives_up_with_a_clear_error_when_a_writer_holds_on(seeded):
    impatient = WarehouseResource(path=str(seeded.file), lock_timeout_s=0.2)
    holding, release = threading.Event(), threading.Event()

    def writer():
        with seeded.transaction():
            holding.set()
            release.wait(60)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert holding.wait(30)
        with pytest.raises(WarehouseLockTimeout, match="could not get the read lock"):
            query("select 1", warehouse=impatient)
    finally:
        release.set()
        t.join()


def test_query_is_sandboxed_like_the_sql_command(seeded, tmp_path):
    secret = tmp_path / "not-the-warehouse.txt"
    secret.write_text("private")
    with pytest.raises(QueryRefused, match="ATTACH is refused"):
        query(f"attach '{tmp_path / 'other.duckdb'}' as other", warehouse=seeded)
    with pytest.raises(QueryRefused, match="INSTALL and LOAD are refused"):
        query("install httpfs", warehouse=seeded)
    with pytest.raises(QueryRefused, match="COPY reads or writes files"):
        query(f"copy main.items to '{tmp_path / 'out.csv'}'", warehouse=seeded)
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(duckdb.PermissionException):
        query(f"select content from read_text('{secret}')", warehouse=seeded)
    with pytest.raises(duckdb.Error, match="configuration has been locked"):
        query("set enable_external_access = true", warehouse=seeded)
    with pytest.raises(duckdb.Error, match="read-only"):
        query("delete from main.items", warehouse=seeded)
    assert query("select count(*) as n from main.items", warehouse=seeded)["n"].tolist() == [10]
    # files only when asked for
    frame = query(f"select content from read_text('{secret}')", warehouse=seeded, allow_files=True)
    assert frame["content"].tolist() == ["private"]


def test_query_errors_name_the_problem(seeded, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist yet"):
        query("select 1", warehouse=str(tmp_path / "missing.duckdb"))
    with pytest.raises(duckdb.InterruptException):
        query("select count(*) from range(100000000000) a", warehouse=seeded, timeout_s=0.5)
    with pytest.raises(duckdb.CatalogException, match="nope"):
        query("select * from main.nope", warehouse=seeded)
