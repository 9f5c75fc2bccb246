"""Connections to a monitored database: read-only, bounded, labelled.

The monitored database is someone's production. Every session we open carries, through libpq's
`options`, `default_transaction_read_only=on`, a `statement_timeout`, a `lock_timeout`, an
`idle_in_transaction_session_timeout` and `application_name=aimatrix_pipeline`, so the guarantees
hold for psycopg and for the ADBC (Arrow, binary COPY) driver alike, whatever the query.

The DSN is read from the environment variable the project names (`dagster.EnvVar`), at run time,
and never appears in logs, metadata or error messages (`redact_dsn`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import dagster as dg
import psycopg

APPLICATION_NAME = "aimatrix_pipeline"


class SourceConfigError(RuntimeError):
    """The project's DSN is missing or unusable; the message names the env var, never the DSN."""


class SourceUnavailable(RuntimeError):
    """The monitored database could not be reached or went away mid-query."""


def redact_dsn(text: str) -> str:
    """Remove credentials from anything that may contain a DSN (error messages included)."""
    text = re.sub(r"(postgres(?:ql)?://)[^@\s/]*@", r"\1***@", text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


def bounded_dsn(
    dsn: str,
    *,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    application_name: str = APPLICATION_NAME,
    connect_timeout_s: int = 10,
) -> str:
    """Add the safety settings to a URL-style DSN as libpq `options` and keywords."""
    if "://" not in dsn:
        raise SourceConfigError("only URL-style DSNs (postgresql://...) are supported")
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    opts = [
        query.pop("options", ""),
        "-c default_transaction_read_only=on",
        f"-c statement_timeout={int(statement_timeout_ms)}",
        f"-c lock_timeout={int(lock_timeout_ms)}",
        "-c idle_in_transaction_session_timeout=60000",
    ]
    query["options"] = " ".join(o for o in opts if o)
    query["application_name"] = application_name
    query.setdefault("connect_timeout", str(connect_timeout_s))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class SourcePostgresResource(dg.ConfigurableResource):
    """Opens bounded, read-only sessions to one monitored project's database."""

    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    connect_timeout_s: int = 10

    def dsn_for(self, db_url_env: str) -> str:
        try:
            dsn = dg.EnvVar(db_url_env).get_value()
        except Exception:  # noqa: BLE001 - EnvVar raises different types across versions
            dsn = None
        if not dsn:
            raise SourceConfigError(
                f"environment variable {db_url_env} is not set: it must hold the monitored "
                "database's DSN (postgresql://user:password@host:port/db)"
            )
        return bounded_dsn(
            dsn,
            statement_timeout_ms=self.statement_timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
            connect_timeout_s=self.connect_timeout_s,
        )

    @contextmanager
    def connect(self, db_url_env: str) -> Iterator[psycopg.Connection]:
        """psycopg connection (autocommit off: everything runs in one read-only transaction)."""
        dsn = self.dsn_for(db_url_env)
        try:
            conn = psycopg.connect(dsn)
        except psycopg.OperationalError as exc:
            raise SourceUnavailable(
                f"cannot connect to the database in ${db_url_env}: {redact_dsn(str(exc)).strip()}"
            ) from None
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def connect_adbc(self, db_url_env: str) -> Iterator[object]:
        """ADBC connection: results arrive as Arrow batches over binary COPY."""
        import adbc_driver_postgresql.dbapi as adbc

        dsn = self.dsn_for(db_url_env)
        try:
            conn = adbc.connect(dsn)
        except Exception as exc:  # noqa: BLE001 - the driver raises its own error hierarchy
            raise SourceUnavailable(
                f"cannot connect to the database in ${db_url_env}: {redact_dsn(str(exc)).strip()}"
            ) from None
        try:
            yield conn
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a dead connection may fail to close
                pass
