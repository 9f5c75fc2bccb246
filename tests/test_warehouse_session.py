"""A step's shared warehouse connection (`WarehouseResource.step_session`): each project still its
own transaction, the file opened once, and the lock given back while nothing is written."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from aimatrix_pipeline.resources import warehouse as warehouse_module
from aimatrix_pipeline.resources.warehouse import WarehouseDamaged, WarehouseLockTimeout, WarehouseResource


@pytest.fixture
def items(warehouse):
    with warehouse.transaction() as conn:
        conn.execute("create table if not exists main.items (project text, n integer)")
    return warehouse


def _opens(monkeypatch) -> list[str]:
    """Every read-write open of a DuckDB file by the warehouse module."""
    opened: list[str] = []
    real = duckdb.connect

    def counting(database=":memory:", *args, **kwargs):
        if not kwargs.get("read_only"):
            opened.append(str(database))
        return real(database, *args, **kwargs)

    monkeypatch.setattr(warehouse_module.duckdb, "connect", counting)
    return opened


def _other_process_reader(warehouse: WarehouseResource, timeout_s: float):
    """A reader as another process's `aimatrix-pipeline sql` would be: sandboxed and locked, so
    never through this process's session; its own descriptor on the lock file, which conflicts with
    the session's as another process's would (flock locks belong to the open file)."""
    return WarehouseResource(path=str(warehouse.file), lock_timeout_s=timeout_s).reader(locked=True)


def test_a_step_session_opens_the_file_once_for_many_projects_each_its_own_transaction(items, monkeypatch):
    opened = _opens(monkeypatch)
    with items.step_session(idle_s=30):
        for i in range(16):
            with items.transaction() as conn:
                conn.execute("insert into main.items values (?, ?)", [f"p{i}", i])
        with pytest.raises(RuntimeError, match="boom"):
            with items.transaction() as conn:  # one project fails: only its rows go
                conn.execute("insert into main.items values ('bad', 99)")
                raise RuntimeError("boom")
        with items.reader() as conn:  # the pipeline's own read inside the step: same connection
            assert conn.execute("select count(*) from main.items").fetchone()[0] == 16
    assert opened == [str(items.file)]
    # committed and checkpointed: a fresh read-only open (another process) sees all of it
    with duckdb.connect(str(items.file), read_only=True) as conn:
        rows = conn.execute("select project, n from main.items order by n").fetchall()
    assert rows == [(f"p{i}", i) for i in range(16)]
    # without a session, every transaction opens the file
    opened.clear()
    for _ in range(3):
        with items.transaction() as conn:
            conn.execute("select 1")
    assert len(opened) == 3


def test_an_idle_session_gives_the_lock_back_so_readers_are_not_held_by_a_slow_project(items):
    with items.step_session(idle_s=0.3):
        with items.transaction() as conn:
            conn.execute("insert into main.items values ('fast', 1)")
        # a busy session holds the file: another process's reader times out
        with items.writer():
            with pytest.raises(WarehouseLockTimeout):
                with _other_process_reader(items, 0.5) as conn:
                    pass
        # the step then waits on a slow source: after idle_s the lock is given back
        time.sleep(1.0)
        with _other_process_reader(items, 2.0) as conn:
            assert conn.execute("select count(*) from main.items").fetchone()[0] == 1
        # and the next project's write opens it again
        with items.transaction() as conn:
            conn.execute("insert into main.items values ('slow', 2)")
    with _other_process_reader(items, 2.0) as conn:
        assert conn.execute("select count(*) from main.items").fetchone()[0] == 2


def test_threads_of_a_session_take_turns_and_none_of_their_writes_is_lost(items):
    errors: list[BaseException] = []

    def project(i: int) -> None:
        try:
            for j in range(5):
                with items.transaction() as conn:
                    conn.execute("insert into main.items values (?, ?)", [f"p{i}", j])
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    with items.step_session(idle_s=0.05):  # short: the idle close races the writers
        threads = [threading.Thread(target=project, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    with _other_process_reader(items, 2.0) as conn:
        assert conn.execute("select count(*), count(distinct project) from main.items").fetchone() == (20, 4)


def test_a_file_cut_while_the_session_was_idle_is_found_by_its_next_writer(items):
    with items.transaction() as conn:
        conn.execute("insert into main.items select 'p', range from range(200000)")
    with items.step_session(idle_s=0.2):
        with items.transaction() as conn:
            conn.execute("insert into main.items values ('q', 1)")
        time.sleep(0.8)  # the session closed its connection, verified
        size = items.file.stat().st_size  # a restore cut short, a full disk, an outside truncate
        with open(items.file, "r+b") as f:
            f.truncate(size // 3)
        with pytest.raises(WarehouseDamaged, match="truncated"):
            with items.transaction() as conn:
                conn.execute("insert into main.items values ('r', 2)")


def test_a_block_nested_in_a_projects_transaction_shares_it_and_never_rolls_it_back(items):
    # a pipeline read or write nested in a write of the same thread (a helper that opens its own
    # writer, a rule evaluated inside a derivation) shares the write's transaction: it neither
    # waits for the step's own lock nor ends the transaction when it closes
    with items.step_session(idle_s=30):
        with items.transaction() as conn:
            conn.execute("insert into main.items values ('p', 1)")
            with items.writer() as nested:
                assert nested.execute("select count(*) from main.items").fetchone()[0] == 1
            with items.reader() as nested:
                assert nested.execute("select count(*) from main.items").fetchone()[0] == 1
            conn.execute("insert into main.items values ('p', 2)")
    with _other_process_reader(items, 2.0) as conn:
        assert conn.execute("select count(*) from main.items").fetchone()[0] == 2
