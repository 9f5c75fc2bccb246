"""The warehouse on DuckLake: what replaces the single-writer DuckDB file when one machine is not enough.

A DuckDB file takes one writer process on one host. DuckLake keeps the catalog (tables, snapshots,
transactions) in PostgreSQL and the data as Parquet files under a data path (a shared directory or
an `s3://` object store), so runs in separate containers or pods on separate hosts read and write
the same warehouse with snapshot isolation, and readers never block writers. DuckLake rejects the
later of two overlapping commits that delete from and insert into one table (every asset writes by
delete-then-insert), so write transactions take a catalog-wide advisory lock until they commit
(`_commit_lock`): writers on many hosts overlap in everything but their commits, and the
`duckdb_warehouse` pool may be raised above 1.

Selected by configuration only: `AIMATRIX_WAREHOUSE=ducklake:postgres:<libpq conninfo>` (no
password in it: libpq reads `PGPASSWORD` or `~/.pgpass`) and `AIMATRIX_WAREHOUSE_DATA_PATH`.
The resource subclasses WarehouseResource and keeps its interface (`writer()`, `transaction()`,
`reader()`, `publish_snapshot()`, `file`), so no asset changes.

Extensions are never downloaded (`INSTALL` would fetch them from the internet at run time): they
are loaded from the `duckdb-extension-ducklake`, `-postgres_scanner` and `-httpfs` packages (the
`lake` extra), which must be built for the running DuckDB version (why DuckDB is pinned to
1.5.5). When they are missing or built for another version, connecting fails with an error that
says exactly that.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import psycopg

from aimatrix_pipeline.resources.warehouse import (
    WarehouseLockTimeout,
    WarehouseResource,
    _schema_guard,
    ensure_schema,
)
from aimatrix_pipeline.settings import LakeSettings, Settings, current_settings

DUCKLAKE_PREFIX = "ducklake:"
CATALOG_ALIAS = "warehouse"
POSTGRES_CATALOG = "ducklake:postgres:"
EXTENSION_PACKAGES = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",  # s3:// data paths
}
COMMIT_LOCK_KEY = 0x61696D6C616B65  # pg_advisory_lock key: "aimlake"
INIT_LOCK_KEY = 0x61696D696E6974  # pg_advisory_lock key: "aiminit" (first attach of an empty catalog)


# One attached read-write session per process and warehouse (DuckLakeWarehouseResource._session).
_sessions: dict[tuple, duckdb.DuckDBPyConnection] = {}
_sessions_guard = threading.Lock()


class WarehouseConfigError(RuntimeError):
    """The configured warehouse cannot be used; the message says why and what to install."""


class CommitConflict(RuntimeError):
    """DuckLake rejected a commit because a concurrent one changed the same table; nothing applied."""


def extension_file(name: str) -> Path:
    """The packaged extension binary for the running DuckDB, or a clear error."""
    package = EXTENSION_PACKAGES[name]
    pip_name = package.replace("_", "-", 2)
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WarehouseConfigError(
            f"the DuckLake warehouse needs the {name} extension: pip install {pip_name}=={duckdb.__version__} "
            "(extensions are never downloaded at run time)"
        ) from None
    files = sorted(Path(module.__file__).parent.rglob(f"{name}.duckdb_extension"))
    if not files:
        raise WarehouseConfigError(f"package {pip_name} contains no {name}.duckdb_extension")
    wanted = f"v{duckdb.__version__}"
    for path in files:
        if wanted in path.parts:
            return path
    built_for = ", ".join(sorted({p for f in files for p in f.parts if re.fullmatch(r"v\d+\.\d+\.\d+", p)}))
    raise WarehouseConfigError(
        f"package {pip_name} ships the {name} extension built for DuckDB {built_for or 'another version'}, "
        f"but this process runs DuckDB {wanted}; DuckDB loads only extensions built for its own version. "
        f"Install {pip_name}=={duckdb.__version__} when it is published, or pin duckdb to the extension's version."
    )


class DuckLakeWarehouseResource(WarehouseResource):
    """DuckLake catalog in PostgreSQL + Parquet data path, behind the WarehouseResource interface."""

    path: str = "ducklake:postgres:dbname=aimatrix_lake"
    data_path: str = LakeSettings.data_path
    local_path: str = LakeSettings.local_path
    s3_endpoint: str = ""
    s3_url_style: str = ""
    s3_use_ssl: bool = True
    s3_region: str = ""
    read_catalog: str = ""
    """libpq conninfo of the catalog as a role that can only read (SELECT on the catalog's tables):
    readers attach with it, so even a function that reached the catalog connection could change
    nothing. Empty: readers use the writers' catalog role."""

    @property
    def catalog(self) -> str:
        if not self.path.startswith(DUCKLAKE_PREFIX):
            raise WarehouseConfigError(f"not a DuckLake warehouse: {self.path.split(' ')[0]!r}")
        return self.path

    @property
    def catalog_conninfo(self) -> str | None:
        """libpq conninfo of the catalog's PostgreSQL (None for another kind of catalog). Its
        advisory locks order commits (`_commit_lock`) and hold the per-source connection slots
        across hosts (SourcePostgresResource)."""
        return self.catalog[len(POSTGRES_CATALOG):] if self.catalog.startswith(POSTGRES_CATALOG) else None

    @property
    def _catalog_name(self) -> str:
        """The catalog without connection details, for messages."""
        found = re.search(r"dbname=(\S+)", self.catalog)
        return f"(catalog database {found.group(1)})" if found else "(catalog)"

    @property
    def remote(self) -> bool:
        """True when the data files live in an object store (`s3://...`) rather than a directory."""
        return bool(re.match(r"^[a-z][a-z0-9+.-]*://", self.data_path))

    @property
    def file(self) -> Path:
        """The data directory (sizes are measured here). With an object-store data path, a local
        directory standing in for it on this host (dashboard output and source slots go beside it)."""
        return Path(self.local_path if self.remote else self.data_path).expanduser().resolve()

    @property
    def _data_location(self) -> str:
        return self.data_path.rstrip("/") + "/" if self.remote else str(self.file)

    def _s3_secret(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Object-store credentials from the environment only (never from configuration)."""
        options, params = ["type s3", f"scope '{_quote(self.data_path)}'"], []
        for key, value in (("key_id", os.environ.get("AWS_ACCESS_KEY_ID")),
                           ("secret", os.environ.get("AWS_SECRET_ACCESS_KEY")),
                           ("session_token", os.environ.get("AWS_SESSION_TOKEN")),
                           ("region", self.s3_region or os.environ.get("AWS_REGION")
                            or os.environ.get("AWS_DEFAULT_REGION")),
                           ("endpoint", self.s3_endpoint), ("url_style", self.s3_url_style)):
            if value:
                options.append(f"{key} ?")
                params.append(value)
        options.append(f"use_ssl {'true' if self.s3_use_ssl else 'false'}")
        conn.execute(f"create temporary secret aimatrix_lake ({', '.join(options)})", params)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(":memory:", config={**self._config(), "autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False})
        try:
            for name in ("postgres_scanner", "ducklake", *(("httpfs",) if self.remote else ())):
                conn.execute(f"load '{extension_file(name)}'")
            if self.remote:
                self._s3_secret(conn)
            options = [f"DATA_PATH '{_quote(self._data_location)}'"]
            if read_only:
                options.append("READ_ONLY")
            self.file.mkdir(parents=True, exist_ok=True)
            catalog = POSTGRES_CATALOG + self.read_catalog if read_only and self.read_catalog else self.catalog
            with contextlib.nullcontext() if read_only else self._init_lock():
                conn.execute(f"attach '{_quote(catalog)}' as {CATALOG_ALIAS} ({', '.join(options)})")
            conn.execute(f"use {CATALOG_ALIAS}")
        except WarehouseConfigError:
            conn.close()
            raise
        except duckdb.Error as exc:
            conn.close()
            if read_only and "does not exist" in str(exc):  # as the file warehouse's readers say
                raise FileNotFoundError(
                    f"the DuckLake warehouse {self._catalog_name} does not exist yet: "
                    "materialize the extract assets first"
                ) from None
            raise WarehouseConfigError(f"cannot attach the DuckLake catalog: {exc}") from None
        return conn

    @contextmanager
    def _init_lock(self) -> Iterator[None]:
        """Held around a writer's attach while the catalog database holds no DuckLake yet.

        The first attach of an empty catalog creates DuckLake's tables. On the first tick of a new
        deployment the queue starts several runs at once, and two concurrent initialisations
        collide in PostgreSQL (`duplicate key value violates unique constraint
        "pg_type_typname_nsp_index"` on CREATE TABLE ducklake_metadata). Under this lock one
        process initialises; the others wait for it and then attach the catalog it made. Once the
        catalog exists, attaching takes no lock (one catalog query decides)."""
        pg = self._catalog_session("aimatrix-ducklake-init-lock")
        if pg is None:
            yield
            return
        try:
            if pg.execute("select to_regclass('ducklake_metadata') is not null").fetchone()[0]:
                pg.close()
                yield
                return
            self._advisory_lock(pg, INIT_LOCK_KEY, "initialisation lock",
                                "another writer is still creating the catalog")
            yield
        finally:
            pg.close()  # ends the session: releases the lock

    def _catalog_session(self, application_name: str) -> psycopg.Connection | None:
        """A session on the catalog's PostgreSQL to hold a lock in, or None without one."""
        conninfo = self.catalog_conninfo
        if conninfo is None:
            return None
        try:
            return psycopg.connect(conninfo, autocommit=True, application_name=application_name)
        except psycopg.Error as exc:
            raise WarehouseConfigError(f"cannot reach the DuckLake catalog's PostgreSQL: {exc}") from None

    def _advisory_lock(self, pg: psycopg.Connection, key: int, what: str, holder: str) -> None:
        """Take session advisory lock `key`, waiting at most lock_timeout_s."""
        pg.execute("select set_config('lock_timeout', %s, false)", [f"{int(self.lock_timeout_s * 1000)}ms"])
        try:
            pg.execute("select pg_advisory_lock(%s)", [key])
        except psycopg.errors.LockNotAvailable:
            raise WarehouseLockTimeout(
                f"could not get the DuckLake {what} within {self.lock_timeout_s:.0f}s; {holder}"
            ) from None

    @contextmanager
    def _commit_lock(self) -> Iterator[None]:
        """Catalog-wide advisory lock held by one write transaction at a time, from before its
        first read of the lake to its commit.

        DuckLake rejects the later of two overlapping commits that delete from and insert into the
        same table (every asset writes that way), even for different projects. Taking this lock
        first means every transaction starts on the snapshot the previous one committed, so the
        resource's writers never conflict with each other, while everything outside a transaction
        (reading the sources, Dagster's own work, readers) runs in parallel. It is a session lock
        on the catalog's PostgreSQL: a writer that dies releases it with its connection.
        """
        pg = self._catalog_session("aimatrix-ducklake-commit-lock")
        if pg is None:
            yield
            return
        try:
            self._advisory_lock(pg, COMMIT_LOCK_KEY, "commit lock", "another writer holds a transaction open")
            yield
        finally:
            pg.close()  # ends the session: releases the lock

    def _apply_schema(self, conn: duckdb.DuckDBPyConnection) -> None:
        # Only when the catalog lacks this version's DDL, and then under the commit lock: two
        # writers running `create or replace` at once would conflict.
        with _schema_guard:
            ensure_schema(conn, lock=self._commit_lock())

    def _session_key(self) -> tuple:
        return (os.getpid(), self.catalog, self._data_location, self.remote, self.s3_endpoint,
                self.s3_url_style, self.s3_use_ssl, self.s3_region, self.memory_limit, self.threads)

    def _session(self) -> duckdb.DuckDBPyConnection:
        """The run process's one attached DuckLake session (extensions loaded, catalog attached,
        schema brought to this version), opened by the first writer and kept for the process.

        Opening a session costs more than most transactions: a DuckDB instance, three extensions
        loaded from disk, the catalog attached (a PostgreSQL connection and a read of DuckLake's
        metadata) and the schema-version check. Every writer of the process takes a cursor of it
        instead (a connection to the same DuckDB instance, so the same attached catalog); each
        transaction still starts on the latest snapshot the catalog holds, committed by any host.
        Keyed by process id, so a forked child opens its own."""
        key = self._session_key()
        with _sessions_guard:
            conn = _sessions.get(key)
            if conn is None:
                conn = self._connect(read_only=False)
                try:
                    self._apply_schema(conn)
                except BaseException:
                    conn.close()
                    raise
                _sessions[key] = conn
            return conn

    def _drop_session(self) -> None:
        with _sessions_guard:
            conn = _sessions.pop(self._session_key(), None)
        if conn is not None:
            try:
                conn.close()
            except duckdb.Error:
                pass

    @contextmanager
    def step_session(self, idle_s: float = 1.0) -> Iterator[None]:
        """Nothing to share per step: every writer of the process already takes a cursor of its
        one attached session, and DuckLake commits need no file lock held between them."""
        yield

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection with the schema applied: a cursor of the process's attached
        session (`_session`). Write through `transaction()`: its commits are serialised across
        processes and hosts (see `_commit_lock`). A session whose catalog connection broke (the
        catalog's PostgreSQL restarted) is dropped, and the next writer attaches again."""
        conn = self._session().cursor()
        try:
            conn.execute(f"use {CATALOG_ALIAS}")
            yield conn
        except (duckdb.IOException, duckdb.ConnectionException, duckdb.FatalException, duckdb.InternalException):
            conn.close()
            self._drop_session()
            raise
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckLake transaction under the commit lock: all of it is committed or nothing.

        A commit that still loses a conflict (to a process that writes without this resource, e.g.
        maintenance) raises `CommitConflict`: nothing of it was applied, so running the step again
        is safe (every asset replaces its slice)."""
        with self.writer() as conn, self._commit_lock():
            conn.execute("begin transaction")
            try:
                yield conn
            except BaseException:
                conn.execute("rollback")
                raise
            try:
                conn.execute("commit")
            except duckdb.TransactionException as exc:
                if "conflict" not in str(exc).lower():
                    raise
                raise CommitConflict(
                    "the DuckLake commit lost a conflict with a concurrent writer and was rolled back whole "
                    f"(nothing applied; safe to run again): {str(exc).splitlines()[-1]}"
                ) from None

    @contextmanager
    def reader(self, timeout_s: float | None = None, *, allow_files: bool = False,
               locked: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session on the latest committed snapshot; never blocks a writer (no lock),
        and is interrupted after `timeout_s` like the file warehouse's readers.

        Sandboxed like the file warehouse's readers once the lake is attached: external access off
        (no file, URL or extension load) but for the lake's data path (`allowed_directories`),
        unless `allow_files`; `locked` locks the configuration. The postgres extension's functions
        stay callable (DuckDB cannot unload them) and would reach the catalog as its role:
        `aimatrix-pipeline sql` refuses them by name (`warehouse.refusal`), and the reader attaches
        with `read_catalog` (a role that can only read) when the deployment names one."""
        limit = self.reader_timeout_s if timeout_s is None else timeout_s
        conn = self._connect(read_only=True)
        try:
            self._sandbox(conn, allow_files, locked)
        except BaseException:
            conn.close()
            raise
        timer = threading.Timer(limit, conn.interrupt) if limit else None
        if timer:
            timer.daemon = True
            timer.start()
        try:
            yield conn
        finally:
            if timer:
                timer.cancel()
            conn.close()

    def _sandbox(self, conn: duckdb.DuckDBPyConnection, allow_files: bool, locked: bool) -> None:
        """Turn external access off (DuckDB lets a session turn it off, never back on) with the
        data path still readable, and lock the configuration so no statement undoes it."""
        conn.execute(f"set allowed_directories = ['{_quote(self._data_location)}']")
        conn.execute("set allow_community_extensions = false")
        if not allow_files:
            conn.execute("set enable_external_access = false")
        if locked:
            conn.execute("set lock_configuration = true")

    def protected_paths(self) -> list[str]:
        """What `sql --allow-files` may never write to: the lake's data path, its local directory
        (locks, slots, state) and the Dagster instance directory."""
        from aimatrix_pipeline.resources.warehouse import _instance_dirs

        local = str(Path(self.local_path).expanduser().resolve())
        return [self._data_location, local, *_instance_dirs()]

    def publish_snapshot(self) -> Path:
        """Nothing to copy: every DuckLake commit is a snapshot readers attach to directly."""
        return self.file


def close_sessions() -> None:
    """Close this process's attached sessions (before its catalog database goes away)."""
    with _sessions_guard:
        conns = list(_sessions.values())
        _sessions.clear()
    for conn in conns:
        try:
            conn.close()
        except duckdb.Error:
            pass


def _quote(value: str) -> str:
    return value.replace("'", "''")


def warehouse_for(spec: str | None = None, settings: Settings | None = None) -> WarehouseResource:
    """The warehouse resource `spec` (default the settings' `AIMATRIX_WAREHOUSE`) selects: a DuckDB
    file, or DuckLake with the settings' lake options (default: the process's current settings)."""
    settings = settings or current_settings()
    spec, lake = spec or settings.warehouse_path, settings.lake
    if spec.startswith(DUCKLAKE_PREFIX):
        return DuckLakeWarehouseResource(path=spec, data_path=lake.data_path, local_path=lake.local_path,
                                         s3_endpoint=lake.s3_endpoint, s3_url_style=lake.s3_url_style,
                                         s3_use_ssl=lake.s3_use_ssl, read_catalog=lake.read_catalog)
    return WarehouseResource(path=spec)
