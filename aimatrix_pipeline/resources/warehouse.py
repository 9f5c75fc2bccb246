"""The DuckDB warehouse behind one resource: serialised writers, readers that never break a run.

DuckDB allows one read-write process per file, and a read-only process blocks writers too. Rather
than let Dagster steps and ad-hoc users collide on DuckDB's own lock (which fails immediately), all
access goes through an advisory `flock` on `<warehouse>.lock`:

* writers take it exclusively and wait (up to `lock_timeout_s`) for readers and other writers;
* readers (`aimatrix-pipeline sql`, dashboards) take it shared, open DuckDB read-only and
  sandboxed (no file but the warehouse, no extensions; for `sql`, a locked configuration), and are
  interrupted after `reader_timeout_s` so a long ad-hoc query can never starve a scheduled run;
* every write happens inside one DuckDB transaction, so a reader sees all of a run or none of it;
* a step that writes many projects (a shard run, shared/batch.py) holds one connection for its
  writes (`step_session`): each project is still its own transaction, but the file is opened,
  checkpointed and verified once a step instead of once a project (52 ms against 1.2 ms a commit).

For tools that want to hold a connection open (BI tools, notebooks), `publish_snapshot()` copies the
committed file to `<stem>.snapshot.duckdb` atomically; those tools read the snapshot and never touch
the live file. The DDL under `sql/warehouse/ddl/` is applied by a writer that finds the
warehouse without this version's schema (`ensure_schema`): a new file, an upgrade, a file replaced
while the process lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from aimatrix_pipeline.settings import DEFAULT_WAREHOUSE
from aimatrix_pipeline.sql_files import sql_files


class WarehouseLockTimeout(RuntimeError):
    """The warehouse stayed locked by another writer or reader for longer than allowed."""


class WarehouseDamaged(RuntimeError):
    """The warehouse file is shorter than its own header says (truncated) or cannot be read."""


# A DuckDB file is 3 header blocks of 4 KiB, then `total_blocks` blocks of `block_size` bytes.
FILE_HEADER_BYTES = 3 * 4096
# DuckDB's messages for a file that ends early or holds garbage where a block should be
_DAMAGE_MARKERS = ("could not read enough bytes", "checksum", "corrupt")
_RESTORE_HINT = ("restore it from a backup or from the published snapshot (<name>.snapshot.duckdb), or "
                 "move it aside to start an empty warehouse")


def _last_used_block(conn: duckdb.DuckDBPyConnection) -> int:
    """The highest block id the catalog (metadata blocks) or any table's data still uses."""
    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def ident(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    tables = conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database() and not temporary"
    ).fetchall()
    blocks = [f"select block_id, additional_block_ids from pragma_storage_info({literal(ident(s) + '.' + ident(t))})"
              for s, t in tables]
    blocks.append("select block_id, null::bigint[] from pragma_metadata_info(current_database())")
    row = conn.execute(
        "select max(b) from (select unnest(list_concat([block_id], coalesce(additional_block_ids, []))) as b from ("
        + " union all ".join(blocks) + "))"
    ).fetchone()
    return -1 if row is None or row[0] is None else int(row[0])


def verify_file(conn: duckdb.DuckDBPyConnection, path: Path, outcome: str = "Nothing was written.") -> None:
    """Raise WarehouseDamaged when the file ends before a block that the warehouse still uses.

    A truncated file (a copy or restore cut short, a full disk, an outside `truncate`) opens
    fine as long as its catalog survives, and a writer that never touches the lost blocks commits
    as usual, while every reader of those tables fails. DuckDB only notices when it reads a lost
    block. Here: when the file holds all `total_blocks` blocks it is whole (O(1)); else, as DuckDB
    itself cuts free blocks off the end, the highest block still in use decides.
    """
    row = conn.execute(
        "select block_size, total_blocks from pragma_database_size() where database_name = current_database()"
    ).fetchone()
    if not row or not row[1]:
        return
    block_size, total_blocks = int(row[0]), int(row[1])
    actual = path.stat().st_size
    if actual >= FILE_HEADER_BYTES + total_blocks * block_size:
        return
    try:
        last = _last_used_block(conn)
    except duckdb.Error as exc:  # the catalog itself points past the end: reading it fails
        raise WarehouseDamaged(
            f"warehouse {path} is truncated: the file holds {actual} bytes of the "
            f"{FILE_HEADER_BYTES + total_blocks * block_size} its header says, and its catalog cannot be read "
            f"({_first_line(exc)}). {outcome} To recover, {_RESTORE_HINT}."
        ) from exc
    expected = FILE_HEADER_BYTES + (last + 1) * block_size
    if actual < expected:
        raise WarehouseDamaged(
            f"warehouse {path} is truncated: the file holds {actual} bytes but its tables use block {last} "
            f"(of {block_size} bytes), which ends at byte {expected}; the data stored in the missing part "
            f"cannot be read. {outcome} To recover, {_RESTORE_HINT}."
        )


# The file's (inode, size, mtime) as this process last verified it. A writer that finds the file
# exactly as the previous writer of this process left it (verified after its checkpoint) skips the
# verification on connect, which reads the storage layout of every table when the file holds
# free blocks at its end (the usual case); any change from outside (truncate, copy, another
# process's write) changes the stat and verifies again.
_verified: dict[Path, tuple[int, int, int]] = {}


def _file_stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def damage_of(exc: BaseException, path: Path) -> WarehouseDamaged | None:
    """The WarehouseDamaged a DuckDB error means, when it says the file ends early or holds
    garbage (a query reading a lost block after the file opened); None for any other error."""
    if isinstance(exc, duckdb.Error) and any(m in str(exc).lower() for m in _DAMAGE_MARKERS):
        return WarehouseDamaged(
            f"warehouse {path} is truncated or damaged: a block it uses cannot be read ({_first_line(exc)}); "
            f"to recover, {_RESTORE_HINT}."
        )
    return None


def _connect_checked(path: Path, **kwargs) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, with a damaged file reported as WarehouseDamaged and the size verified."""
    seen = _file_stat(path)
    try:
        conn = duckdb.connect(str(path), **kwargs)
    except duckdb.Error as exc:
        if any(m in str(exc).lower() for m in _DAMAGE_MARKERS):
            raise WarehouseDamaged(
                f"warehouse {path} cannot be opened, it is truncated or damaged ({str(exc).splitlines()[0]}); "
                f"to recover, {_RESTORE_HINT}."
            ) from exc
        raise
    if seen is not None and _verified.get(path) == seen:
        return conn
    try:
        verify_file(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


_schema_guard = threading.Lock()
# The step session of this process per warehouse file (`WarehouseResource.step_session`).
_step_sessions: dict[Path, "_StepSession"] = {}
_step_sessions_guard = threading.Lock()


@contextmanager
def _flock(lock_path: Path, exclusive: bool, timeout_s: float) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    kind = "write" if exclusive else "read"
                    raise WarehouseLockTimeout(
                        f"could not get the {kind} lock on {lock_path} within {timeout_s:.0f}s; "
                        "another run or a long ad-hoc query holds the warehouse"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def apply_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Run every DDL file in `sql/warehouse/ddl/` (all `CREATE ... IF NOT EXISTS`)."""
    for path in sql_files("warehouse/ddl"):
        try:
            conn.execute(path.read_text())
        except duckdb.Error as exc:
            raise RuntimeError(f"warehouse DDL {path.name} failed: {exc}") from exc


@functools.cache
def schema_digest() -> str:
    """Digest of the DDL files (names and text): changes with any table, view or macro."""
    digest = hashlib.sha256()
    for path in sql_files("warehouse/ddl"):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def schema_is_current(conn: duckdb.DuckDBPyConnection) -> bool:
    """True when the warehouse says it holds this version's DDL (one small read)."""
    try:
        rows = conn.execute("select digest from raw.schema_version").fetchall()
    except duckdb.CatalogException:  # a new warehouse, or one from before the version table
        return False
    return rows == [(schema_digest(),)]


def ensure_schema(conn: duckdb.DuckDBPyConnection, lock=None) -> bool:
    """Apply the DDL unless the warehouse already holds this version of it; True if it ran.

    `lock` (a context manager) serialises the DDL with other writers where the warehouse does not
    do it by itself (DuckLake); the version is read again under it."""
    if schema_is_current(conn):
        return False
    with lock if lock is not None else contextlib.nullcontext():
        if schema_is_current(conn):
            return False
        apply_schema(conn)
        conn.execute("begin transaction")
        conn.execute("delete from raw.schema_version")
        conn.execute("insert into raw.schema_version values (?, now())", [schema_digest()])
        conn.execute("commit")
    return True


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB warehouse file. Switching to another engine means replacing this resource only."""

    path: str = DEFAULT_WAREHOUSE
    lock_timeout_s: float = 900.0
    reader_timeout_s: float = 120.0
    memory_limit: str = "2GB"
    threads: int = 2

    @property
    def file(self) -> Path:
        return Path(self.path).expanduser().resolve()

    @property
    def lock_file(self) -> Path:
        return self.file.with_name(self.file.name + ".lock")

    @property
    def snapshot_file(self) -> Path:
        return self.file.with_name(self.file.stem + ".snapshot.duckdb")

    def _config(self) -> dict:
        return {"memory_limit": self.memory_limit, "threads": self.threads}

    def protected_paths(self) -> list[str]:
        """What `sql --allow-files` may never write to: the warehouse file, its WAL, lock and
        published snapshot, and the Dagster instance directory (`DAGSTER_HOME`)."""
        paths = [self.file, self.file.with_name(self.file.name + ".wal"), self.lock_file, self.snapshot_file]
        return [str(p) for p in paths] + _instance_dirs()

    def _reader_config(self, allow_files: bool, locked: bool) -> dict:
        """Readers reach nothing but the warehouse: no file (read_text, COPY ... TO, ATTACH)
        unless `allow_files`, never an extension download or load. `locked` (for SQL a user
        types, `aimatrix-pipeline sql`) also locks the configuration, so no query can undo that;
        the pipeline's own readers may still set session options such as TimeZone."""
        return {**self._config(), "enable_external_access": allow_files,
                "autoinstall_known_extensions": False, "autoload_known_extensions": False,
                "allow_community_extensions": False, "lock_configuration": locked}

    @contextmanager
    def step_session(self, idle_s: float = 1.0) -> Iterator[None]:
        """Within this block every `writer()`, `transaction()` and pipeline `reader()` of this
        process on this file shares one connection, opened by the first of them.

        Why: a shard run writes each of its projects in a transaction of its own (so one project's
        failure loses nothing of the others). Opening the file for each of them took the exclusive
        lock, opened DuckDB, checkpointed, verified and closed: ~52 ms of a busy machine's CPU per
        project and asset, most of a 16-project statistics run's own work. Here each project is
        still its own transaction, and the open, checkpoint and verification happen once.

        The lock is not held while nothing is written: after `idle_s` without a writer the
        connection is checkpointed, verified and closed (so a project waiting on a slow source does
        not keep `sql` users and the alert sensor out of the warehouse), and the next writer opens
        it again. Writers of the session's threads take turns, as the file lock made them before."""
        session = _StepSession(self, idle_s)
        with _step_sessions_guard:
            if self.file in _step_sessions:  # nested (a step inside a step's session): share it
                session = None
            else:
                _step_sessions[self.file] = session
        if session is None:
            yield
            return
        try:
            yield
        finally:
            with _step_sessions_guard:
                _step_sessions.pop(self.file, None)
            session.end()

    def _active_session(self) -> "_StepSession | None":
        return _step_sessions.get(self.file) if _step_sessions else None

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Exclusive read-write connection with the schema applied. Callers open transactions.

        The file is verified on connect (a truncated file fails the run with WarehouseDamaged
        before anything is written) and again after the closing checkpoint. Inside a
        `step_session`, the session's connection."""
        session = self._active_session()
        if session is not None:
            with session.connection() as conn:
                yield conn
            return
        with self._exclusive() as conn:
            yield conn

    @contextmanager
    def _exclusive(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The file opened read-write under the exclusive lock; checkpointed and verified on exit."""
        with _flock(self.lock_file, exclusive=True, timeout_s=self.lock_timeout_s):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            known = _verified.get(self.file)
            conn = _connect_checked(self.file, config=self._config())
            try:
                if known is None or known != _verified.get(self.file) or known != _file_stat(self.file):
                    with _schema_guard:
                        ensure_schema(conn)
                # else: the file is as this process's last writer left it, schema applied and verified
                yield conn
                verified = self._checkpoint_and_verify(conn)
            except BaseException:
                _verified.pop(self.file, None)
                conn.close()
                raise
            conn.close()
            if verified and (stat := _file_stat(self.file)) is not None:
                _verified[self.file] = stat

    def _checkpoint_and_verify(self, conn: duckdb.DuckDBPyConnection) -> bool:
        """Write the WAL into the file now (closing would do it anyway) and check the result;
        True when the file was verified."""
        try:
            conn.execute("checkpoint")
        except duckdb.TransactionException:
            return False  # the caller left a transaction open; closing rolls it back, nothing to verify
        verify_file(conn, self.file, "This run's writes were committed to a damaged file.")
        return True

    def table_metadata(self, qualified_table: str, row_count: int, **extra) -> dict:
        """`metadata.table_metadata` without a session of its own when this process already read
        the table's columns at this DDL version (`column_schema` caches them): an extract asset no
        longer opens a second writer just to describe the table it wrote."""
        from aimatrix_pipeline.metadata import cached_column_schema, table_metadata

        schema = cached_column_schema(self.path, qualified_table)
        if schema is not None:
            return table_metadata(None, qualified_table, row_count, _schema=schema, **extra)
        with self.writer() as conn:
            return table_metadata(conn, qualified_table, row_count, _cache_key=self.path, **extra)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A writer inside one transaction: committed on success, rolled back on any error."""
        with self.writer() as conn:
            conn.execute("begin transaction")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            conn.execute("commit")

    @contextmanager
    def reader(self, timeout_s: float | None = None, *, allow_files: bool = False,
               locked: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Shared, read-only, sandboxed connection (`_reader_config`); interrupted after
        `timeout_s` so writers are never starved."""
        if not self.file.exists():
            raise FileNotFoundError(
                f"warehouse {self.file} does not exist yet: materialize the extract assets first"
            )
        limit = self.reader_timeout_s if timeout_s is None else timeout_s
        session = self._active_session() if not (allow_files or locked) else None
        if session is not None:
            # the pipeline's own read inside a step that holds the file: through its connection
            # (a second open of the file would wait for the step's own lock)
            with session.connection(rollback_left_open=False) as conn:
                yield conn
            return
        with _flock(self.lock_file, exclusive=False, timeout_s=self.lock_timeout_s):
            conn = _connect_checked(self.file, read_only=True, config=self._reader_config(allow_files, locked))
            done = threading.Event()
            if limit:
                # keeps interrupting once the limit has passed: an interrupt with no query running is
                # lost, and on a loaded machine the caller's query could start after the limit (a
                # clean-clone CI run saw `sql --timeout 0.5` run a 10^11-row count to its end)
                threading.Thread(target=_interrupt_after, args=(conn, limit, done), daemon=True,
                                 name="aimatrix-reader-timeout").start()
            try:
                yield conn
            finally:
                done.set()
                conn.close()

    def publish_snapshot(self) -> Path:
        """Copy the committed warehouse to `<stem>.snapshot.duckdb` atomically (tmp + rename)."""
        with _flock(self.lock_file, exclusive=False, timeout_s=self.lock_timeout_s):
            tmp = self.snapshot_file.with_suffix(".tmp")
            shutil.copyfile(self.file, tmp)
            os.replace(tmp, self.snapshot_file)
        return self.snapshot_file


class _StepSession:
    """One step's shared warehouse connection (`WarehouseResource.step_session`)."""

    def __init__(self, resource: WarehouseResource, idle_s: float):
        self.resource = resource
        self.idle_s = idle_s
        self.lock = threading.RLock()  # one writer (or reader) at a time, as the file lock did
        self._held: contextlib.ExitStack | None = None
        self.conn: duckdb.DuckDBPyConnection | None = None
        self.last_used = 0.0
        self._depth = 0  # blocks open on the connection (one thread's, nested)
        self.error: BaseException | None = None  # a failed idle close, raised at the end
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @contextmanager
    def connection(self, rollback_left_open: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.lock:
            if self.conn is None:
                self._open()
            conn = self.conn
            self._depth += 1
            outermost = self._depth == 1  # a block inside another of the same thread shares its transaction
            try:
                yield conn
            except BaseException as exc:
                # what the block left open is rolled back (as closing the file did); a connection
                # DuckDB invalidated, or a damaged file, is closed so the next writer opens again
                if outermost:
                    _rollback_quietly(conn)
                    if isinstance(exc, (duckdb.FatalException, WarehouseDamaged)) or damage_of(exc, self.resource.file):
                        self._close(verify=False)
                raise
            else:
                if rollback_left_open and outermost:
                    _rollback_quietly(conn)  # a transaction the block did not commit is not kept
            finally:
                self._depth -= 1
                self.last_used = time.monotonic()

    def _open(self) -> None:
        stack = contextlib.ExitStack()
        self.conn = stack.enter_context(self.resource._exclusive())
        self._held = stack
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._close_when_idle, name="aimatrix-warehouse-idle",
                                             daemon=True)
            self._watcher.start()

    def _close(self, verify: bool = True) -> None:
        stack, self._held, self.conn = self._held, None, None
        if stack is None:
            return
        if verify:
            stack.close()  # checkpoint, verify, close, release the lock
        else:
            _verified.pop(self.resource.file, None)
            try:
                stack.__exit__(RuntimeError, RuntimeError("closed after an error"), None)
            except BaseException:  # noqa: BLE001 - the original error is what the caller raises
                pass

    def _close_when_idle(self) -> None:
        while not self._stop.wait(min(0.1, self.idle_s / 2)):
            if self.conn is None or time.monotonic() - self.last_used < self.idle_s:
                continue
            if not self.lock.acquire(blocking=False):
                continue  # in use
            try:
                if self.conn is not None and time.monotonic() - self.last_used >= self.idle_s:
                    self._close()
            except BaseException as exc:  # noqa: BLE001 - raised by end() in the step's thread
                self.error = self.error or exc
            finally:
                self.lock.release()

    def end(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        with self.lock:
            self._close()
        if self.error is not None:
            raise self.error


def _interrupt_after(conn: duckdb.DuckDBPyConnection, limit: float, done: threading.Event) -> None:
    """Interrupt `conn` once `limit` seconds have passed, and again every 50 ms until `done`."""
    if done.wait(limit):
        return
    while not done.is_set():
        try:
            conn.interrupt()
        except duckdb.Error:
            return  # closed
        done.wait(0.05)


def _rollback_quietly(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute("rollback")
    except duckdb.Error:
        pass  # no transaction was open


def _instance_dirs() -> list[str]:
    """The Dagster instance directory, when this process names one."""
    home = os.environ.get("DAGSTER_HOME")
    return [str(Path(home).expanduser().resolve())] if home else []


_FROM_ENV: list = []  # [(settings, resource)] of the last call: settings objects are per environment


def warehouse_from_env() -> WarehouseResource:
    """The resource as the code location configures it (`AIMATRIX_WAREHOUSE`: file or DuckLake),
    from the current settings. Built once per settings object (the source slots ask for it on
    every connection; building a resource validates its whole configuration)."""
    from aimatrix_pipeline.resources.ducklake_warehouse import warehouse_for
    from aimatrix_pipeline.settings import current_settings

    settings = current_settings()
    if _FROM_ENV and _FROM_ENV[0][0] is settings:
        return _FROM_ENV[0][1]
    resource = warehouse_for(settings=settings)
    _FROM_ENV[:] = [(settings, resource)]
    return resource
