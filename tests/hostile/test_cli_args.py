"""`aimatrix-pipeline sql` runs what a user types, on a real warehouse: it reaches the warehouse
and nothing else. Files only with --allow-files; never ATTACH, extensions or settings, nor the
DuckLake catalog's connection. Every refusal is a clear error with exit 2, and nothing happened.

Every sandbox attack runs against both readers: a DuckDB file, and DuckLake (catalog on the
embedded PostgreSQL 18, data on a directory)."""

from __future__ import annotations

import json
import os

import duckdb
import psycopg
import pytest

from aimatrix_pipeline.cli import main
from tests.lake.conftest import Lake


@pytest.fixture(scope="module")
def shared_lake(pg18, tmp_path_factory):
    """One DuckLake warehouse for the module (the readers only read it): catalog on PG 18, data on a
    directory, with the same table of three rows as the file warehouse."""
    lake = Lake(pg18, "dir", tmp_path_factory.mktemp("lake"), None)
    with lake.resource().transaction() as conn:
        conn.execute("create table main.items as select range as n from range(3)")
    yield lake
    lake.drop()


@pytest.fixture(params=["file", "ducklake"])
def wh(request, tmp_path, monkeypatch):
    """The warehouse `sql` reads (a DuckDB file, then DuckLake), with a table of three rows; a secret
    file outside it; the URL of the DuckLake catalog database (None for the file)."""
    if request.param == "file":
        warehouse = request.getfixturevalue("warehouse")
        with warehouse.transaction() as conn:
            conn.execute("create table main.items as select range as n from range(3)")
        monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
        catalog_url = None
    else:
        lake = request.getfixturevalue("shared_lake")
        for k, v in lake.env.items():
            monkeypatch.setenv(k, v)
        warehouse = lake.resource()
        catalog_url = lake.pg.url(lake.catalog_db)
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-value\n")
    return warehouse, tmp_path, secret, catalog_url


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["sql", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_plain_queries_still_work(wh, capsys):
    code, out, err = _run(capsys, "--format", "json", "select sum(n) as total from main.items")
    assert code == 0, err
    assert json.loads(out) == [{"total": 3}]


@pytest.mark.parametrize("query, message", [
    ("select * from read_text('{secret}')", "--allow-files"),
    ("select * from read_csv('{secret}')", "--allow-files"),
    ("select * from glob('{tmp}/*')", "--allow-files"),
    ("copy (select 42) to '{tmp}/out.csv'", "COPY reads or writes files"),
    ("export database '{tmp}/export'", "EXPORT reads or writes files"),
    ("select 1; copy main.items to '{tmp}/out.csv'", "COPY reads or writes files"),
    ("attach '{tmp}/other.duckdb' as other", "ATTACH is refused"),
    ("install httpfs", "INSTALL and LOAD are refused"),
    ("load httpfs", "INSTALL and LOAD are refused"),
    ("select * from 'http://127.0.0.1:9/x.csv'", "--allow-files"),
    ("set enable_external_access = true", "configuration has been locked"),
    ("set autoinstall_known_extensions = true", "configuration has been locked"),
])
def test_sandbox_refuses_files_attach_extensions_and_settings(wh, capsys, query, message):
    _, tmp, secret, _ = wh
    code, out, err = _run(capsys, query.format(secret=secret, tmp=tmp))
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err, err
    assert "s3cret-value" not in out + err
    assert not (tmp / "out.csv").exists() and not (tmp / "export").exists() and not (tmp / "other.duckdb").exists()


def test_files_with_allow_files(wh, capsys):
    _, tmp, secret, _ = wh
    code, out, err = _run(capsys, "--allow-files", "--format", "json", f"select content from read_text('{secret}')")
    assert code == 0, err
    assert json.loads(out) == [{"content": "s3cret-value\n"}]
    code, out, err = _run(capsys, "--allow-files", f"copy (select n from main.items order by n) to '{tmp}/out.csv'")
    assert code == 0, err
    assert (tmp / "out.csv").read_text().split() == ["n", "0", "1", "2"]


@pytest.mark.parametrize("query, message", [
    ("attach '{tmp}/other.duckdb' as other", "ATTACH is refused"),
    ("install httpfs", "INSTALL and LOAD are refused"),
    ("force install httpfs", "INSTALL and LOAD are refused"),
    ("set enable_external_access = false", "configuration has been locked"),
])
def test_allow_files_still_refuses_attach_extensions_and_settings(wh, capsys, query, message):
    _, tmp, _, _ = wh
    duckdb.connect(str(tmp / "other.duckdb")).close()
    before = (tmp / "other.duckdb").read_bytes()
    code, out, err = _run(capsys, "--allow-files", query.format(tmp=tmp))
    assert code == 2 and message in err, (out, err)
    assert (tmp / "other.duckdb").read_bytes() == before


def test_attach_cannot_modify_another_duckdb_file(wh, capsys):
    _, tmp, _, _ = wh
    other = tmp / "other.duckdb"
    with duckdb.connect(str(other)) as conn:
        conn.execute("create table t as select 1 as x")
    before = other.read_bytes()
    code, _, err = _run(capsys, f"attach '{other}' as o; insert into o.t values (2)")
    assert code == 2 and "ATTACH is refused" in err
    assert other.read_bytes() == before


# The second round's attacks on the DuckLake reader, as they were reported (run on both readers).
@pytest.mark.parametrize("query, message", [
    ("select content from read_text('{secret}')", "--allow-files"),
    ("set threads = 1", "configuration has been locked"),
    ("set enable_external_access = true", "configuration has been locked"),
    ("set allowed_directories = ['/']", "configuration has been locked"),
    ("call postgres_execute('__ducklake_metadata_warehouse', 'commit; create table public.x(x int)')",
     "postgres_execute is refused"),
    ("select * from postgres_query('__ducklake_metadata_warehouse', 'select rolpassword from pg_authid')",
     "postgres_query is refused"),
    ("select * from POSTGRES_SCAN('dbname=postgres', 'public', 'x')", "postgres_scan is refused"),
    ('call "postgres_attach" /* quoted */ (\'dbname=postgres\')', "postgres_attach is refused"),
    ("select * from query('call postgres_execute(''__ducklake_metadata_warehouse'', ''select 1'')')",
     "query is refused"),
    ("select * from query_table('__ducklake_metadata_warehouse.public.ducklake_snapshot')", "query_table is refused"),
    ("select * from __ducklake_metadata_warehouse.public.ducklake_snapshot", "catalog database is refused"),
    ('select * from "__ducklake_metadata_warehouse".pg_catalog.pg_authid', "catalog database is refused"),
    ("use __ducklake_metadata_warehouse", "catalog database is refused"),
])
def test_no_reader_reaches_files_settings_or_the_catalog_connection(wh, capsys, query, message):
    _, tmp, secret, catalog_url = wh
    code, out, err = _run(capsys, query.format(secret=secret))
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err, err
    assert "s3cret-value" not in out + err
    if catalog_url:  # nothing was created in the catalog database
        with psycopg.connect(catalog_url) as conn:
            assert not conn.execute("select 1 from pg_class where relname = 'x' "
                                    "and relnamespace = 'public'::regnamespace").fetchall()


def test_the_reader_reports_its_configuration_locked(wh, capsys):
    code, out, err = _run(capsys, "--format", "json",
                          "select current_setting('lock_configuration') as locked, "
                          "current_setting('enable_external_access') as external")
    assert code == 0, err
    assert json.loads(out) == [{"locked": True, "external": False}]


def test_a_column_named_like_a_refused_function_is_still_readable(wh, capsys):
    """Names are refused only where they are called: a column called `query` (query text) reads."""
    code, out, err = _run(capsys, "--format", "json", "select n as query, 'postgres_execute(' as postgres_query "
                                                      "from main.items order by n limit 1")
    assert code == 0, err
    assert json.loads(out) == [{"query": 0, "postgres_query": "postgres_execute("}]


def _target(kind: str, warehouse, tmp) -> str:
    """Where a write attack aims: the warehouse file, or a file in the lake's data path."""
    if kind == "warehouse":
        return str(warehouse.file / "pwned.parquet") if warehouse.file.is_dir() else str(warehouse.file)
    if kind == "wal":
        return str(warehouse.file / "x.wal") if warehouse.file.is_dir() else str(warehouse.file) + ".wal"
    if kind == "relative":
        return os.path.relpath(_target("warehouse", warehouse, tmp), tmp.parent)  # the test runs in tmp's parent
    if kind == "symlink":
        link = tmp / "innocent.csv"
        link.symlink_to(warehouse.file / "pwned.parquet" if warehouse.file.is_dir() else warehouse.file)
        return str(link)
    if kind == "file_url":
        return "file://" + _target("warehouse", warehouse, tmp)
    if kind == "instance":
        return str(tmp / "dagster_home" / "dagster.yaml")
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["warehouse", "wal", "relative", "symlink", "file_url", "instance"])
@pytest.mark.parametrize("statement", ["copy (select 1) to '{target}' (format csv)",
                                       "copy main.items to '{target}'", "export database '{target}'"])
def test_allow_files_never_writes_over_the_warehouse(wh, capsys, monkeypatch, kind, statement):
    """`copy (select 1) to '<warehouse>' (format csv)` turned the warehouse into 4 bytes: any write to
    the warehouse, its WAL, the lake's data path or the instance folder is refused, however named."""
    warehouse, tmp, _, _ = wh
    (tmp / "dagster_home").mkdir()
    (tmp / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp / "dagster_home"))
    monkeypatch.chdir(tmp.parent)
    target = _target(kind, warehouse, tmp)
    before = sorted((p, p.stat().st_size) for p in warehouse.file.parent.rglob("*") if p.is_file())
    code, out, err = _run(capsys, "--allow-files", statement.format(target=target))
    assert code == 2, (out, err)
    assert "may not write to" in err and "warehouse's own files" in err, err
    assert sorted((p, p.stat().st_size) for p in warehouse.file.parent.rglob("*") if p.is_file()) == before
    assert (tmp / "dagster_home" / "dagster.yaml").read_text().startswith("telemetry")
    code, out, err = _run(capsys, "--format", "json", "select count(*) as n from main.items")
    assert code == 0 and json.loads(out) == [{"n": 3}], err


def test_readers_attach_through_a_catalog_role_that_can_only_read(shared_lake, capsys, monkeypatch):
    """Where the deployment allows it (AIMATRIX_WAREHOUSE_READ_CATALOG): `sql` reads the lake as a
    role with SELECT only, and even a statement that reached the catalog connection (here run on
    the reader directly, past `sql`'s refusal) could not change the catalog database."""
    lake = shared_lake
    role = f"lake_reader_{os.getpid()}"
    with psycopg.connect(lake.pg.url(lake.catalog_db), autocommit=True) as conn:
        conn.execute(f"create role {role} login")
        conn.execute(f"grant usage on schema public to {role}")
        conn.execute(f"grant select on all tables in schema public to {role}")
    try:
        for k, v in lake.env.items():
            monkeypatch.setenv(k, v)
        read_catalog = f"host=127.0.0.1 port={lake.pg.port} dbname={lake.catalog_db} user={role}"
        monkeypatch.setenv("AIMATRIX_WAREHOUSE_READ_CATALOG", read_catalog)
        code, out, err = _run(capsys, "--format", "json", "select count(*) as n from main.items")
        assert code == 0 and json.loads(out) == [{"n": 3}], err
        reader = lake.resource().model_copy(update={"read_catalog": read_catalog})
        with reader.reader() as conn:
            with pytest.raises(duckdb.Error, match="read-only|permission denied"):
                conn.execute("call postgres_execute('__ducklake_metadata_warehouse', "
                             "'commit; create table public.x(x int)')")
        with psycopg.connect(lake.pg.url(lake.catalog_db)) as conn:
            assert not conn.execute("select 1 from pg_class where relname = 'x' "
                                    "and relnamespace = 'public'::regnamespace").fetchall()
    finally:
        with psycopg.connect(lake.pg.url(lake.catalog_db), autocommit=True) as conn:
            conn.execute(f"drop owned by {role}")
            conn.execute(f"drop role {role}")
