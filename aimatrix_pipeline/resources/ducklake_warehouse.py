"""The warehouse on DuckLake: what replaces the single-writer DuckDB file when one machine is not enough.

A DuckDB file takes one writer process on one host. DuckLake keeps the catalog (tables, snapshots,
transactions) in PostgreSQL and the data as Parquet files under a data path (a shared volume or an
object store), so runs in separate containers or pods on separate hosts read and write the same
warehouse with snapshot isolation, and readers never block writers. Writers still take turns
(the `duckdb_warehouse` pool, which the Dagster instance enforces across hosts): DuckLake rejects
the later of two concurrent commits that delete from the same table, and every asset here writes
by delete-then-insert.

Selected by configuration only: `AIMATRIX_WAREHOUSE=ducklake:postgres:<libpq conninfo>` (no
password in it: libpq reads `PGPASSWORD` or `~/.pgpass`) and `AIMATRIX_WAREHOUSE_DATA_PATH`.
The resource subclasses WarehouseResource and keeps its interface (`writer()`, `transaction()`,
`reader()`, `publish_snapshot()`, `file`), so no asset changes.

Extensions are never downloaded (`INSTALL` would fetch them from the internet at run time): they
are loaded from the `duckdb-extension-ducklake` and `duckdb-extension-postgres_scanner` packages,
which must be built for the running DuckDB version. When they are missing or built for another
version, connecting fails with an error that says exactly that.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from aimatrix_pipeline.resources.warehouse import (
    WarehouseResource,
    _schema_applied,
    _schema_guard,
    apply_schema,
)

DUCKLAKE_PREFIX = "ducklake:"
CATALOG_ALIAS = "warehouse"
EXTENSION_PACKAGES = {"ducklake": "duckdb_extension_ducklake", "postgres_scanner": "duckdb_extension_postgres_scanner"}


class WarehouseConfigError(RuntimeError):
    """The configured warehouse cannot be used; the message says why and what to install."""


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
    data_path: str = "data/lake"

    @property
    def catalog(self) -> str:
        if not self.path.startswith(DUCKLAKE_PREFIX):
            raise WarehouseConfigError(f"not a DuckLake warehouse: {self.path.split(' ')[0]!r}")
        return self.path

    @property
    def file(self) -> Path:
        """The data path: where the Parquet files live (sizes are measured here)."""
        return Path(self.data_path).expanduser().resolve()

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(":memory:", config={**self._config(), "autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False})
        try:
            for name in ("postgres_scanner", "ducklake"):
                conn.execute(f"load '{extension_file(name)}'")
            options = [f"DATA_PATH '{self.file}'"]
            if read_only:
                options.append("READ_ONLY")
            self.file.mkdir(parents=True, exist_ok=True)
            conn.execute(f"attach '{self.catalog}' as {CATALOG_ALIAS} ({', '.join(options)})")
            conn.execute(f"use {CATALOG_ALIAS}")
        except WarehouseConfigError:
            conn.close()
            raise
        except duckdb.Error as exc:
            conn.close()
            raise WarehouseConfigError(f"cannot attach the DuckLake catalog: {exc}") from None
        return conn

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write session. Commits are checked for conflicts in the catalog: two writers
        that delete from the same table conflict and the later commit fails (nothing of it is
        applied), so keep the `duckdb_warehouse` pool at 1 (deployment-wide) as with the file."""
        conn = self._connect(read_only=False)
        try:
            with _schema_guard:  # once per process: re-running `create or replace` DDL conflicts too
                if self.catalog not in _schema_applied:
                    apply_schema(conn)
                    _schema_applied.add(self.catalog)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def reader(self, timeout_s: float | None = None, *, allow_files: bool = False,
               locked: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only session on the latest committed snapshot; never blocks a writer.

        Unlike the file warehouse's readers it keeps external access on: it reads the catalog
        through the postgres extension and the data as Parquet files. Extensions are never
        auto-installed or auto-loaded (see `_connect`); `aimatrix-pipeline sql` still refuses
        ATTACH, INSTALL/LOAD and, without --allow-files, COPY and EXPORT by statement type."""
        conn = self._connect(read_only=True)
        try:
            yield conn
        finally:
            conn.close()

    def publish_snapshot(self) -> Path:
        """Nothing to copy: every DuckLake commit is a snapshot readers attach to directly."""
        return self.file


def warehouse_for(spec: str | None) -> WarehouseResource:
    """The warehouse resource a configuration string selects (`AIMATRIX_WAREHOUSE`)."""
    from aimatrix_pipeline.settings import DEFAULT_WAREHOUSE

    spec = spec or DEFAULT_WAREHOUSE
    if spec.startswith(DUCKLAKE_PREFIX):
        return DuckLakeWarehouseResource(
            path=spec, data_path=os.environ.get("AIMATRIX_WAREHOUSE_DATA_PATH") or "data/lake"
        )
    return WarehouseResource(path=spec)
