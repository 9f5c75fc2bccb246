"""`aimatrix-pipeline sql` runs what a user types, on a real warehouse file: it reaches the
warehouse and nothing else. Files only with --allow-files; never ATTACH, extensions or settings.
Every refusal is a clear error with exit 2, and nothing happened."""

from __future__ import annotations

import json

import duckdb
import pytest

from aimatrix_pipeline.cli import main


@pytest.fixture
def wh(warehouse, tmp_path, monkeypatch):
    with warehouse.transaction() as conn:
        conn.execute("create table main.items as select range as n from range(3)")
    monkeypatch.setenv("AIMATRIX_WAREHOUSE", warehouse.path)
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-value\n")
    return warehouse, tmp_path, secret


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
    _, tmp, secret = wh
    code, out, err = _run(capsys, query.format(secret=secret, tmp=tmp))
    assert code == 2, (out, err)
    assert err.startswith("error: ") and message in err, err
    assert "s3cret-value" not in out + err
    assert not (tmp / "out.csv").exists() and not (tmp / "export").exists() and not (tmp / "other.duckdb").exists()


def test_files_with_allow_files(wh, capsys):
    _, tmp, secret = wh
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
    _, tmp, _ = wh
    duckdb.connect(str(tmp / "other.duckdb")).close()
    before = (tmp / "other.duckdb").read_bytes()
    code, out, err = _run(capsys, "--allow-files", query.format(tmp=tmp))
    assert code == 2 and message in err, (out, err)
    assert (tmp / "other.duckdb").read_bytes() == before


def test_attach_cannot_modify_another_duckdb_file(wh, capsys):
    _, tmp, _ = wh
    other = tmp / "other.duckdb"
    with duckdb.connect(str(other)) as conn:
        conn.execute("create table t as select 1 as x")
    before = other.read_bytes()
    code, _, err = _run(capsys, f"attach '{other}' as o; insert into o.t values (2)")
    assert code == 2 and "ATTACH is refused" in err
    assert other.read_bytes() == before
